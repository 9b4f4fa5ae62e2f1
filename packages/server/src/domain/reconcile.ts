import type { Db } from '../db/client.js';
import type { Logger } from '../observability/logger.js';

/** How long a resource may sit in a transitional status with no live job before it is settled. */
const GRACE_MS = 60_000;

/**
 * Defence in depth for "nothing stays in a transitional status forever": a backup still `creating`,
 * `deleting` or `restoring` although no job works on it any more (a bug, or rows changed by hand)
 * is given a final status that says what happened. Jobs normally settle their resources themselves,
 * resuming or compensating after any crash; this only catches what slipped through.
 */
export async function reconcileTransitionalStatuses(prisma: Db, logger: Logger): Promise<number> {
  const before = new Date(Date.now() - GRACE_MS);
  const orphaned = {
    jobs: { none: { status: { in: ['queued' as const, 'running' as const] } } },
    updatedAt: { lt: before },
  };
  const settled = await prisma.$transaction([
    prisma.volumeBackup.updateMany({
      where: { status: 'creating', ...orphaned },
      data: {
        status: 'error',
        failReason: 'interrupted: no job was working on this backup any more; delete it and back up again',
      },
    }),
    prisma.volumeBackup.updateMany({
      where: { status: 'deleting', ...orphaned },
      data: { status: 'error_deleting', failReason: 'interrupted while deleting; delete it again' },
    }),
    prisma.volumeBackup.updateMany({
      where: { status: 'restoring', ...orphaned },
      data: { status: 'available' },
    }),
  ]);
  const count = settled.reduce((sum, result) => sum + result.count, 0);
  if (count > 0) logger.warn({ count }, 'settled backups left in a transitional status without a job');
  return count;
}
