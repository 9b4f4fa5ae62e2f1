import type { StorageDriver } from '../../dataplane/index.js';
import { defineJob } from '../../jobs/engine.js';
import { JobFailedError } from '../../jobs/errors.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';
import { lockInstances, runningInstances, unlockInstances } from './instance-locks.js';

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

/**
 * Steps: lock (Nova lock on every attached instance, so nobody starts it) → mark (volume
 * `maintenance`: Cinder's own `reverting` cannot be set through os-reset_status) → rollback (the storage driver replaces the data) → release (former status back,
 * instances unlocked).
 */
export function rollbackJob(deps: { cloud: OpenStackCloud; storage: StorageDriver }) {
  const { cloud } = deps;
  const unlock = (state: Partial<RollbackState>) => unlockInstances(cloud, state.lockedByUs ?? []);

  return defineJob<RollbackState>({
    kind: 'volume_rollback',

    async run(ctx) {
      const state = () => ctx.state as RollbackState;

      if (ctx.step === 'start') {
        // Usually locked already by the request (held job); else (request died) locked here.
        const locked = await lockInstances(cloud, state().serverIds);
        const lockedByUs = [...new Set([...(state().lockedByUs ?? []), ...locked])];
        await ctx.advance('start', { lockedByUs });
        // Locked now: check none was started between the request and the lock.
        const running = await runningInstances(cloud, state().serverIds);
        if (running.length > 0) {
          throw new JobFailedError(
            `instance ${running.join(', ')} was started before the rollback could begin; stop it and try again`,
          );
        }
        await ctx.advance('mark', { lockedByUs });
      }

      if (ctx.step === 'mark') {
        await cloud.asService(({ cinder }) =>
          cloud.cinder.resetVolumeStatus(cinder, state().volumeId, 'maintenance'),
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
