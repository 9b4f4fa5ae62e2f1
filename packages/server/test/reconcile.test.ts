import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { reconcileTransitionalStatuses } from '../src/domain/reconcile.js';
import { createLogger } from '../src/observability/logger.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.prisma.repository.create({ data: { id: 'repo', url: 'file:///nowhere' } });
});
afterAll(() => db?.drop());

async function backup(
  status: 'creating' | 'deleting' | 'restoring' | 'available',
  ageMs: number,
  withLiveJob = false,
) {
  const id = randomUUID();
  await db.prisma.volumeBackup.create({
    data: {
      id,
      projectId: 'p',
      userId: 'u',
      volumeId: randomUUID(),
      status,
      sizeGb: 1,
      repositoryId: 'repo',
    },
  });
  await db.prisma
    .$executeRaw`UPDATE "VolumeBackup" SET "updatedAt" = now() - make_interval(secs => ${ageMs / 1000}) WHERE id = ${id}::uuid`;
  if (withLiveJob) {
    await db.prisma.job.create({
      data: { id: randomUUID(), kind: 'volume_backup_create', projectId: 'p', volumeBackupId: id },
    });
  }
  return id;
}

it('settles backups stuck in a transitional status with no live job, and leaves the others alone', async () => {
  const stuckCreating = await backup('creating', 120_000);
  const stuckDeleting = await backup('deleting', 120_000);
  const stuckRestoring = await backup('restoring', 120_000);
  const working = await backup('creating', 120_000, true);
  const fresh = await backup('creating', 1_000);
  const done = await backup('available', 120_000);
  expect(await reconcileTransitionalStatuses(db.prisma, createLogger('silent'))).toBe(3);
  const status = async (id: string) => db.prisma.volumeBackup.findUniqueOrThrow({ where: { id } });
  expect(await status(stuckCreating)).toMatchObject({
    status: 'error',
    failReason: expect.stringMatching(/^interrupted/),
  });
  expect((await status(stuckDeleting)).status).toBe('error_deleting');
  expect((await status(stuckRestoring)).status).toBe('available');
  expect((await status(working)).status).toBe('creating');
  expect((await status(fresh)).status).toBe('creating');
  expect((await status(done)).status).toBe('available');
});
