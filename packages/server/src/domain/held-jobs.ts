import type { Db } from '../db/client.js';
import type { Prisma } from '../generated/prisma/client.js';

// A request that must do something before its job may run (lock instances, create snapshots with the
// caller's token) enqueues the job held (`runAfter` in the future), does it, then releases the job.
// If the request dies in between, the job runs when the hold ends and finds (by unique names, or the
// Nova lock reason) or compensates what the request left behind.

/** How long a held job waits for its request: well beyond one OpenStack call with its timeout. */
export const holdUntil = (timeoutMs: number) => new Date(Date.now() + 4 * timeoutMs + 10_000);

/**
 * Lets the job run now, with `patch` merged into its state. False when it no longer waits (the hold
 * ended and a worker took it): the job then works from what it finds.
 */
export async function releaseHeldJob(prisma: Db, jobId: string, patch: Record<string, unknown> = {}) {
  return prisma.$transaction(async (tx) => {
    // FOR UPDATE: a worker's claim (SKIP LOCKED) passes over the row until this commits.
    const rows = await tx.$queryRaw<Array<{ state: Record<string, unknown> }>>`
      SELECT state FROM "Job" WHERE id = ${jobId}::uuid AND status = 'queued' FOR UPDATE`;
    const row = rows[0];
    if (!row) return false;
    await tx.job.update({
      where: { id: jobId },
      data: { runAfter: new Date(), state: { ...row.state, ...patch } as Prisma.InputJsonValue },
    });
    return true;
  });
}
