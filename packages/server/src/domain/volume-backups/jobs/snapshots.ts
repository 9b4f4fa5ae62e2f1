import { JobFailedError } from '../../../jobs/errors.js';
import type { Snapshot } from '../../../openstack/cinder.js';
import { OpenStackHttpError } from '../../../openstack/http.js';
import { type TransitionStart, timeStart, waitUntil } from '../../wait.js';
import type { VolumeBackupJobDeps } from './deps.js';

/**
 * A point-in-time Cinder snapshot owned by the service, found by its unique name or created (force:
 * the volume may be in use). Find-before-create makes a retried step never make a second snapshot.
 * `begun`: when its creation began (our clock, see `Transition`), if this call created it.
 */
export async function findOrCreateServiceSnapshot(
  deps: VolumeBackupJobDeps,
  volumeId: string,
  name: string,
  description: string,
): Promise<{ snapshot: Snapshot; begun?: TransitionStart }> {
  return deps.cloud.asServiceOnCinder(async (auth) => {
    const [existing] = await deps.cloud.cinder.listSnapshots(auth, { name, volumeId, allTenants: true });
    if (existing) return { snapshot: existing };
    try {
      const { created, begun } = await timeStart(() =>
        deps.cloud.cinder.createSnapshot(auth, { volume_id: volumeId, name, description, force: true }),
      );
      return { snapshot: created, begun };
    } catch (error) {
      // The create may have reached Cinder before the connection failed: look again before retrying.
      const [made] = await deps.cloud.cinder.listSnapshots(auth, { name, volumeId, allTenants: true });
      if (made) return { snapshot: made };
      throw error;
    }
  });
}

/** `begun`: when the snapshot's creation began, if this process made the call (see `Transition`). */
export async function waitForSnapshotAvailable(
  deps: VolumeBackupJobDeps,
  snapshotId: string,
  signal: AbortSignal,
  begun?: TransitionStart,
) {
  return waitUntil(
    `snapshot ${snapshotId} to become available`,
    () =>
      deps.cloud.asServiceOnCinder(async (auth) => {
        const snapshot = await deps.cloud.cinder.getSnapshot(auth, snapshotId);
        if (!snapshot) throw new JobFailedError(`snapshot ${snapshotId} disappeared before it was read`);
        if (snapshot.status === 'error')
          throw new JobFailedError(`Cinder could not create snapshot ${snapshotId} (status error)`);
        return snapshot.status === 'available' ? snapshot : undefined;
      }),
    {
      signal,
      intervalMs: deps.pollMs,
      timeoutMs: deps.waitTimeoutMs,
      transition: { kind: 'cinder snapshot create', begun, timestamps: (snapshot) => snapshot },
    },
  );
}

/** Deletes a snapshot the service made and waits until Cinder has removed it. */
export async function deleteServiceSnapshot(
  deps: VolumeBackupJobDeps,
  snapshotId: string,
  signal?: AbortSignal,
) {
  await requestSnapshotDeletion(deps, snapshotId);
  await waitForSnapshotDeleted(deps, snapshotId, signal);
}

/** Asks Cinder to delete a snapshot the service made (again, if it is stuck), without waiting. */
export async function requestSnapshotDeletion(deps: VolumeBackupJobDeps, snapshotId: string) {
  await deps.cloud.asServiceOnCinder(async (auth) => {
    // Usually available (a backup has just read it): one call. Cinder refuses (400) any other status
    // but error, and a missing snapshot is gone already (404, accepted).
    try {
      await deps.cloud.cinder.deleteSnapshot(auth, snapshotId);
      return;
    } catch (error) {
      if (!(error instanceof OpenStackHttpError && error.status === 400)) throw error;
    }
    const snapshot = await deps.cloud.cinder.getSnapshot(auth, snapshotId);
    if (!snapshot) return;
    if (
      snapshot.status === 'error_deleting' ||
      snapshot.status === 'creating' ||
      snapshot.status === 'error'
    ) {
      // A snapshot stuck in a transitional or error state can only be deleted once reset.
      if (snapshot.status !== 'error') await deps.cloud.cinder.resetSnapshotStatus(auth, snapshotId, 'error');
    }
    if (snapshot.status !== 'deleting') await deps.cloud.cinder.deleteSnapshot(auth, snapshotId);
  });
}

export async function waitForSnapshotDeleted(
  deps: VolumeBackupJobDeps,
  snapshotId: string,
  signal?: AbortSignal,
) {
  await waitUntil(
    `snapshot ${snapshotId} to be deleted`,
    () =>
      deps.cloud.asServiceOnCinder(async (auth) => {
        const snapshot = await deps.cloud.cinder.getSnapshot(auth, snapshotId);
        if (snapshot?.status === 'error_deleting')
          throw new JobFailedError(`Cinder could not delete snapshot ${snapshotId}`);
        return snapshot ? undefined : true;
      }),
    { signal, intervalMs: deps.pollMs, timeoutMs: deps.waitTimeoutMs },
  );
}
