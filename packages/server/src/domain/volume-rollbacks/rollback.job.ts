import type { StorageDriver } from '../../dataplane/index.js';
import { defineJob } from '../../jobs/engine.js';
import { JobFailedError } from '../../jobs/errors.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';

type RollbackState = {
  volumeId: string;
  snapshotId: string;
  formerStatus: string;
  serverIds: string[];
  /** Servers this job locked (one the owner had locked already stays locked afterwards). */
  lockedByUs: string[];
  /** Whether the volume's data may already have changed. */
  dataTouched: boolean;
};

const LOCK_REASON = 'backup service: rolling back a volume of this instance';

/**
 * Steps: lock (Nova lock on every attached instance, so nobody starts it) → mark (volume
 * `reverting`) → rollback (the storage driver replaces the data) → release (former status back,
 * instances unlocked).
 */
export function rollbackJob(deps: { cloud: OpenStackCloud; storage: StorageDriver }) {
  const { cloud } = deps;
  const unlock = async (state: Partial<RollbackState>) => {
    await cloud.asService(async ({ nova }) => {
      for (const id of state.lockedByUs ?? []) {
        const server = await cloud.nova.getServer(nova, id);
        if (server?.locked) await cloud.nova.unlock(nova, id);
      }
    });
  };

  return defineJob<RollbackState>({
    kind: 'volume_rollback',

    async run(ctx) {
      const state = () => ctx.state as RollbackState;

      if (ctx.step === 'start') {
        const lockedByUs: string[] = [...(state().lockedByUs ?? [])];
        await cloud.asService(async ({ nova }) => {
          for (const id of state().serverIds) {
            const server = await cloud.nova.getServer(nova, id);
            if (!server) continue;
            if (!server.locked) {
              await cloud.nova.lock(nova, id, LOCK_REASON);
              lockedByUs.push(id);
            } else if (server.locked_reason === LOCK_REASON && !lockedByUs.includes(id)) {
              lockedByUs.push(id); // ours, from before a crash
            }
            // Locked now: check it was not started between the request and the lock.
            const after = await cloud.nova.getServer(nova, id);
            if (after && after.status !== 'SHUTOFF') {
              await ctx.advance('start', { lockedByUs });
              throw new JobFailedError(
                `instance ${id} was started (${after.status}) before the rollback could begin; stop it and try again`,
              );
            }
          }
        });
        await ctx.advance('mark', { lockedByUs });
      }

      if (ctx.step === 'mark') {
        await cloud.asService(({ cinder }) =>
          cloud.cinder.resetVolumeStatus(cinder, state().volumeId, 'reverting'),
        );
        await ctx.advance('rollback', { dataTouched: true });
      }

      if (ctx.step === 'rollback') {
        await deps.storage.rollback({ volumeId: state().volumeId, snapshotId: state().snapshotId });
        await ctx.advance('release');
      }

      if (ctx.step === 'release') {
        await cloud.asService(({ cinder }) =>
          cloud.cinder.resetVolumeStatus(cinder, state().volumeId, state().formerStatus),
        );
        await unlock(state());
      }
    },

    async fail(ctx, reason) {
      const state = ctx.state;
      ctx.log.error({ reason }, 'rollback failed');
      if (state.volumeId) {
        // Untouched data: the volume is as it was. Touched: it may be half rolled back, never "fine".
        const status = state.dataTouched ? 'error' : (state.formerStatus ?? 'error');
        await cloud.asService(async ({ cinder }) => {
          const volume = await cloud.cinder.getVolume(cinder, state.volumeId ?? '');
          if (volume && volume.status !== status)
            await cloud.cinder.resetVolumeStatus(cinder, volume.id, status);
        });
      }
      await unlock(state);
    },
  });
}
