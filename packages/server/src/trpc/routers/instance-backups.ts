import { z } from 'zod';
import { procedure, router } from '../init.js';
import { byId, metadata, name255, uuid } from '../schemas.js';
import { instanceBackupView, page } from '../views.js';
import { instanceArtifactListInput, listQuery } from './instance-artifacts.js';

/** The operations of /v1/instance/backup, over the same InstanceBackupService. */
export const instanceBackupsRouter = router({
  list: procedure.input(instanceArtifactListInput).query(async ({ ctx, input }) => {
    const { backups, more } = await ctx.core.instanceBackups.list(ctx.caller, listQuery(input));
    return page(backups.map(instanceBackupView), more);
  }),

  get: procedure
    .input(byId)
    .query(async ({ ctx, input }) =>
      instanceBackupView(await ctx.core.instanceBackups.get(ctx.caller, input.id)),
    ),

  /** A volume backup of every attached volume from snapshots taken together, plus the instance's description. */
  create: procedure
    .input(
      z.strictObject({
        instanceId: uuid,
        name: name255.nullish(),
        description: name255.nullish(),
        metadata: metadata.optional(),
        container: name255.nullish(),
        /** false: every volume in full. Default: incremental where a previous backup exists. */
        incremental: z.boolean().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const backup = await ctx.core.instanceBackups.create(ctx.caller, {
        instance_id: input.instanceId,
        name: input.name,
        description: input.description,
        metadata: input.metadata,
        container: input.container,
        incremental: input.incremental,
      });
      return instanceBackupView(backup);
    }),

  update: procedure
    .input(
      z.strictObject({
        id: uuid,
        name: name255.nullish(),
        description: name255.nullish(),
        metadata: metadata.optional(),
      }),
    )
    .mutation(async ({ ctx, input: { id, ...args } }) =>
      instanceBackupView(await ctx.core.instanceBackups.update(ctx.caller, id, args)),
    ),

  verify: procedure
    .input(byId)
    .mutation(async ({ ctx, input }) =>
      instanceBackupView(await ctx.core.instanceBackups.verify(ctx.caller, input.id)),
    ),

  /** Admin only. */
  resetStatus: procedure
    .input(z.strictObject({ id: uuid, status: z.enum(['available', 'error']) }))
    .mutation(async ({ ctx, input }) =>
      instanceBackupView(await ctx.core.instanceBackups.resetStatus(ctx.caller, input.id, input.status)),
    ),

  delete: procedure
    .input(byId)
    .mutation(async ({ ctx, input }) =>
      instanceBackupView(await ctx.core.instanceBackups.delete(ctx.caller, input.id)),
    ),
});
