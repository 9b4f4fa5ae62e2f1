import { randomBytes } from 'node:crypto';
import {
  type BackupClient,
  createBackupClient,
  errorCode,
  items,
  pages,
  TRPCClientError,
  waitFor,
  waitForGone,
} from '@backup-service/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../support/stack.js';
import { settleJobs } from './doors.js';

// Acceptance 1: backups created, waited for, listed, updated, restored and deleted through the SDK
// only (the simulator stands in for the cloud; its data API only writes and checks the bytes).

const MiB = 1024 * 1024;
let stack: Stack;
let demo: BackupClient;

beforeAll(async () => {
  // Tokens are re-validated after 1 s, so that a revoked one is refused soon (renewal test).
  stack = await startStack({ env: { TOKEN_CACHE_SECONDS: '1' } });
  demo = createBackupClient({ url: stack.url, token: await stack.token('demo') });
});
afterAll(async () => {
  if (!stack) return;
  try {
    await settleJobs(stack);
  } finally {
    await stack.close();
  }
});

describe('the SDK', () => {
  it('creates, waits for, lists, updates, restores and deletes backups', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(2 * MiB));
    const original = await stack.cinder.sha256(volumeId);

    const created = await demo.volumeBackups.create.mutate({
      volumeId,
      name: 'nightly',
      metadata: { a: '1' },
    });
    expect(created).toMatchObject({ volumeId, name: 'nightly', status: 'creating', isIncremental: true });
    const full = await waitFor(demo.volumeBackups.get, { id: created.id }, { status: 'available' });
    expect(full).toMatchObject({ id: created.id, status: 'available', isIncremental: false, progress: 100 });
    expect(full.logicalBytes).toBe(2 * MiB);

    await stack.cinder.write(volumeId, 8 * MiB, randomBytes(MiB));
    const changed = await stack.cinder.sha256(volumeId);
    const second = await demo.volumeBackups.create.mutate({ volumeId, name: 'hourly' });
    const incremental = await waitFor(demo.volumeBackups.get, { id: second.id }, { status: 'available' });
    expect(incremental).toMatchObject({ isIncremental: true, parentId: full.id });

    // Lists: one page, pages of one, every item.
    const page = await demo.volumeBackups.list.query({ volumeId, sort: { key: 'created_at', dir: 'asc' } });
    expect(page.items.map((b) => b.id)).toEqual([full.id, incremental.id]);
    expect(page.nextMarker).toBeNull();
    const paged: string[][] = [];
    for await (const ids of pages(demo.volumeBackups.list, { volumeId, limit: 1 }))
      paged.push(ids.map((b) => b.id));
    expect(paged).toEqual([[incremental.id], [full.id]]);
    const all = [];
    for await (const backup of items(demo.volumeBackups.list, { volumeId, status: 'available' }))
      all.push(backup.id);
    expect(all.sort()).toEqual([full.id, incremental.id].sort());

    const updated = await demo.volumeBackups.update.mutate({
      id: full.id,
      name: 'first',
      metadata: { b: '2' },
    });
    expect(updated).toMatchObject({
      id: full.id,
      name: 'first',
      metadata: { b: '2' },
      hasDependentBackups: true,
    });

    // Restore each into a new volume; each gives back its own bytes.
    const fromFull = await demo.volumes.createFromBackup.mutate({ backupId: full.id, name: 'from-full' });
    expect(fromFull.name).toBe('from-full');
    const restore = await demo.volumeBackups.restore.mutate({ id: incremental.id });
    expect(restore.backupId).toBe(incremental.id);
    await stack.cinder.waitVolume('demo', fromFull.id, 'available');
    await stack.cinder.waitVolume('demo', restore.volumeId, 'available');
    expect(await stack.cinder.sha256(fromFull.id)).toBe(original);
    expect(await stack.cinder.sha256(restore.volumeId)).toBe(changed);

    // The jobs behind all of this, with their progress.
    const jobs = await demo.jobs.list.query({ volumeBackupId: full.id, kind: ['volume_backup_create'] });
    expect(jobs.items).toHaveLength(1);
    expect(jobs.items[0]).toMatchObject({ status: 'succeeded', progress: { percent: 100 } });

    // The volume's restore points: both backups.
    const points = await demo.volumes.restorePoints.query({ volumeId });
    expect(points.filter((p) => p.kind === 'backup').map((p) => p.id)).toEqual([incremental.id, full.id]);

    // Repository statistics: the operator's (admin); the figures add up.
    const admin = createBackupClient({ url: stack.url, token: await stack.token('admin') });
    const [repository] = await admin.repositories.stats.query();
    expect(repository).toMatchObject({
      backupCount: 2,
      logicalBytes: 5 * MiB,
      packCount: expect.any(Number),
    });
    expect(repository?.chunkCount).toBeGreaterThan(0);
    expect(repository?.storedBytes).toBeGreaterThan(3 * MiB); // 3 MiB of random data do not compress
    expect(repository?.dedupRatio).toBeCloseTo((5 * MiB) / (repository?.storedBytes ?? 1), 5);
    await expect(admin.repositories.get.query({ id: repository?.id ?? '' })).resolves.toEqual(repository);
    await expect(demo.repositories.stats.query()).rejects.toSatisfy((e) => errorCode(e) === 'FORBIDDEN');

    await waitFor(demo.volumeBackups.get, { id: full.id }, { status: 'available' });
    const deleted = await demo.volumeBackups.delete.mutate({ id: full.id });
    expect(deleted).toEqual({ id: full.id, status: 'deleting' });
    await waitForGone(demo.volumeBackups.get, { id: full.id });
    await expect(demo.volumeBackups.get.query({ id: full.id })).rejects.toSatisfy(
      (error) => errorCode(error) === 'NOT_FOUND',
    );
    // The incremental built on it is complete on its own.
    const again = await demo.volumes.createFromBackup.mutate({ backupId: incremental.id });
    await stack.cinder.waitVolume('demo', again.id, 'available');
    expect(await stack.cinder.sha256(again.id)).toBe(changed);
  });

  it('signs in to Keystone itself and renews a refused token', async () => {
    const sent: string[] = [];
    const client = createBackupClient({
      url: stack.url,
      keystone: { authUrl: stack.sim.urls.keystone, username: 'demo', password: 'demo', project: 'demo' },
      // Only watches which token each call carries.
      fetch: async (input, init) => {
        const token = new Headers(init?.headers).get('x-auth-token');
        if (token) sent.push(token);
        return fetch(input, init);
      },
    });
    await expect(client.volumeBackups.list.query()).resolves.toHaveProperty('items');
    const first = sent.at(-1) as string;
    // An operator revokes the token; once the service's cache of it lapses (1 s here) it answers 401,
    // and the client signs in again and repeats the call.
    const revoke = await fetch(`${stack.sim.urls.keystone}/auth/tokens`, {
      method: 'DELETE',
      headers: { 'x-auth-token': await stack.token('admin'), 'x-subject-token': first },
    });
    expect(revoke.status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(client.volumeBackups.list.query({ limit: 1 })).resolves.toHaveProperty('items');
    expect(sent.slice(-2)).toEqual([first, expect.not.stringMatching(first)]);
  });

  it('carries the same errors as /v1: 401, 403, 404, 400 naming the field', async () => {
    const anonymous = createBackupClient({ url: stack.url, token: 'not-a-token' });
    const unauthorized = await anonymous.volumeBackups.list.query().catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(TRPCClientError);
    expect(errorCode(unauthorized)).toBe('UNAUTHORIZED');
    expect((unauthorized as TRPCClientError<never>).data).toMatchObject({ httpStatus: 401 });

    const volumeId = await stack.cinder.createVolume('demo', 1);
    const reader = createBackupClient({ url: stack.url, token: await stack.token('reader') });
    const forbidden = await reader.volumeBackups.create.mutate({ volumeId }).catch((e: unknown) => e);
    expect(errorCode(forbidden)).toBe('FORBIDDEN');

    const alt = createBackupClient({ url: stack.url, token: await stack.token('alt_demo') });
    const backup = await demo.volumeBackups.create.mutate({ volumeId });
    const hidden = await alt.volumeBackups.get.query({ id: backup.id }).catch((e: unknown) => e);
    expect(errorCode(hidden)).toBe('NOT_FOUND');
    expect((hidden as Error).message).toBe(`Backup ${backup.id} could not be found.`);

    const invalid = await demo.volumeBackups.create
      .mutate({ volumeId: 'nope' } as { volumeId: string })
      .catch((e: unknown) => e);
    expect(errorCode(invalid)).toBe('BAD_REQUEST');
    expect((invalid as Error).message).toMatch(/volumeId/);
    await waitFor(demo.volumeBackups.get, { id: backup.id }, { status: 'available' });
  });
});
