import type { JobHandler } from '../../../jobs/engine.js';
import { JobFailedError, WaitingError } from '../../../jobs/errors.js';
import type { InstanceJobDeps } from '../../instances/deps.js';

/**
 * Deletes an instance backup once its volume backups are gone (each is deleted by its own
 * volume_backup_delete job, enqueued with this one). A volume backup that could not be deleted
 * makes the instance backup `error_deleting`, naming it.
 */
export function deleteInstanceBackupJob(deps: InstanceJobDeps): JobHandler {
  const childPollMs = deps.childPollMs ?? 5_000;
  return {
    kind: 'instance_backup_delete',

    async run(ctx) {
      const id = ctx.job.instanceBackupId ?? (ctx.state.instanceBackupId as string | undefined);
      if (!id) return; // the record is gone: finished before a crash
      if (ctx.step === 'start') await ctx.advance('wait', { instanceBackupId: id });
      const remaining = await deps.prisma.volumeBackup.findMany({ where: { instanceBackupId: id } });
      const stuck = remaining.filter((b) => b.status !== 'deleting');
      if (stuck.length > 0) {
        throw new JobFailedError(
          stuck
            .map(
              (b) =>
                `backup ${b.id} could not be deleted (${b.status}${b.failReason ? `: ${b.failReason}` : ''})`,
            )
            .join('; '),
        );
      }
      if (remaining.length > 0)
        throw new WaitingError(`waiting for ${remaining.length} backup(s) to be deleted`, childPollMs);
      await deps.prisma.instanceBackup.deleteMany({ where: { id } });
    },

    async fail(ctx, reason) {
      const id = ctx.job.instanceBackupId ?? (ctx.state.instanceBackupId as string | undefined);
      if (!id) return;
      await deps.prisma.instanceBackup.updateMany({
        where: { id, status: 'deleting' },
        data: { status: 'error_deleting', failReason: reason },
      });
    },
  };
}
