import { z } from 'zod';
import { procedure, router } from '../init.js';
import { repositoryStatsView } from '../views.js';

/** Statistics of the backup repositories (admin). */
export const repositoriesRouter = router({
  /** Every repository: logical and stored bytes, dedup ratio, chunks and packs. */
  stats: procedure
    .input(z.void())
    .query(async ({ ctx }) => (await ctx.core.repositoryStats.list(ctx.caller)).map(repositoryStatsView)),
  get: procedure
    .input(z.strictObject({ id: z.string().min(1) }))
    .query(async ({ ctx, input }) =>
      repositoryStatsView(await ctx.core.repositoryStats.get(ctx.caller, input.id)),
    ),
});
