import { z } from 'zod';
import { procedure, router } from '../init.js';
import { byId, metadata, name255, uuid } from '../schemas.js';
import { instanceSnapshotView, page } from '../views.js';
import { instanceArtifactListInput, listQuery } from './instance-artifacts.js';

/** The operations of /v1/instance/snapshot, over the same InstanceSnapshotService. */
export const instanceSnapshotsRouter = router({
  list: procedure.input(instanceArtifactListInput).query(async ({ ctx, input }) => {
    const { snapshots, more } = await ctx.core.instanceSnapshots.list(ctx.caller, listQuery(input));
    return page(snapshots.map(instanceSnapshotView), more);
  }),

  get: procedure
    .input(byId)
    .query(async ({ ctx, input }) =>
      instanceSnapshotView(await ctx.core.instanceSnapshots.get(ctx.caller, input.id)),
    ),

  /** A Cinder snapshot of every attached volume (and an image of an image-backed root disk), together. */
  create: procedure
    .input(
      z.strictObject({
        instanceId: uuid,
        name: name255.nullish(),
        description: name255.nullish(),
        metadata: metadata.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const snapshot = await ctx.core.instanceSnapshots.create(ctx.caller, {
        instance_id: input.instanceId,
        name: input.name,
        description: input.description,
        metadata: input.metadata,
      });
      return instanceSnapshotView(snapshot);
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
      instanceSnapshotView(await ctx.core.instanceSnapshots.update(ctx.caller, id, args)),
    ),

  /** Removes what the snapshot created. */
  delete: procedure
    .input(byId)
    .mutation(async ({ ctx, input }) =>
      instanceSnapshotView(await ctx.core.instanceSnapshots.delete(ctx.caller, input.id)),
    ),
});
