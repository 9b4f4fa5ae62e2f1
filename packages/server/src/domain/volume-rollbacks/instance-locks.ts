import type { OpenStackCloud } from '../../openstack/cloud.js';

/** The Nova `locked_reason` of the rollback's lock: how a resumed job recognises its own lock. */
export const ROLLBACK_LOCK_REASON = 'backup service: rolling back a volume of this instance';

/**
 * Locks (Nova lock, as the admin service user, so the owner cannot unlock it) every instance that is
 * not locked yet. Returns the ids it locked, and those already locked with the rollback's reason (a
 * lock of ours from before a crash). An instance locked by someone else is left as it is.
 */
export async function lockInstances(cloud: OpenStackCloud, serverIds: string[]): Promise<string[]> {
  const ours: string[] = [];
  await cloud.asService(async ({ nova }) => {
    for (const id of serverIds) {
      const server = await cloud.nova.getServer(nova, id);
      if (!server) continue;
      if (!server.locked) {
        await cloud.nova.lock(nova, id, ROLLBACK_LOCK_REASON);
        ours.push(id);
      } else if (server.locked_reason === ROLLBACK_LOCK_REASON) {
        ours.push(id);
      }
    }
  });
  return ours;
}

/** The instances (of `serverIds`) that are not SHUTOFF now, as `<id> (<status>)`. */
export async function runningInstances(cloud: OpenStackCloud, serverIds: string[]): Promise<string[]> {
  return cloud.asService(async ({ nova }) => {
    const servers = await Promise.all(serverIds.map((id) => cloud.nova.getServer(nova, id)));
    return servers
      .filter((s) => s && (s.status !== 'SHUTOFF' || s['OS-EXT-STS:task_state']))
      .map((s) => {
        const task = s?.['OS-EXT-STS:task_state'];
        return `${s?.id} (${s?.status}${task ? `, ${task}` : ''})`;
      });
  });
}

/** Unlocks the instances this rollback locked (still locked with its reason). */
export async function unlockInstances(cloud: OpenStackCloud, serverIds: string[]): Promise<void> {
  await cloud.asService(async ({ nova }) => {
    for (const id of serverIds) {
      const server = await cloud.nova.getServer(nova, id);
      if (server?.locked && server.locked_reason === ROLLBACK_LOCK_REASON) await cloud.nova.unlock(nova, id);
    }
  });
}
