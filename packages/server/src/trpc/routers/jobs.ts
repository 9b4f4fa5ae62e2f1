import { z } from 'zod';
import { JOB_SORT_KEYS } from '../../domain/job-queries.js';
import { procedure, router } from '../init.js';
import { byId, pageFields, sortDirection, uuid } from '../schemas.js';
import { jobView, page } from '../views.js';

const jobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
const jobKind = z.enum([
  'volume_backup_create',
  'volume_backup_restore',
  'volume_backup_delete',
  'volume_backup_verify',
  'volume_rollback',
  'instance_snapshot_create',
  'instance_snapshot_delete',
  'instance_backup_create',
  'instance_backup_delete',
  'repository_gc',
]);

/** The persisted jobs behind every long operation, with their progress. */
export const jobsRouter = router({
  list: procedure
    .input(
      z
        .strictObject({
          ...pageFields,
          sort: z
            .strictObject({ key: z.enum(JOB_SORT_KEYS), dir: sortDirection })
            .default({ key: 'created_at', dir: 'desc' }),
          status: z.array(jobStatus).optional(),
          kind: z.array(jobKind).optional(),
          volumeBackupId: uuid.optional(),
          instanceSnapshotId: uuid.optional(),
          instanceBackupId: uuid.optional(),
          /** Admin only: every project's jobs. */
          allTenants: z.boolean().optional(),
        })
        .default({ limit: 100, sort: { key: 'created_at', dir: 'desc' } }),
    )
    .query(async ({ ctx, input }) => {
      const { jobs, more } = await ctx.core.jobQueries.list(ctx.caller, {
        page: { limit: input.limit, marker: input.marker, sort: input.sort },
        status: input.status,
        kind: input.kind,
        volumeBackupId: input.volumeBackupId,
        instanceSnapshotId: input.instanceSnapshotId,
        instanceBackupId: input.instanceBackupId,
        allTenants: input.allTenants,
      });
      return page(jobs.map(jobView), more);
    }),

  get: procedure
    .input(byId)
    .query(async ({ ctx, input }) => jobView(await ctx.core.jobQueries.get(ctx.caller, input.id))),
});
