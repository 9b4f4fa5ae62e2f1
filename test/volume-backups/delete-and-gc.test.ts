import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitFor, waitForBackup } from '../support/stack.js';

// Acceptance 4: deleting a backup that a later incremental was built on leaves the later one
// restorable; after deleting all backups of a volume, garbage collection leaves no chunk of it.

const MiB = 1024 * 1024;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function backup(volumeId: string, container: string) {
  const { status, body } = await stack.v1('demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId, container },
  });
  expect(status).toBe(201);
  return waitForBackup(stack, 'demo', body.backup.id);
}

async function deleteBackup(id: string) {
  expect((await stack.v1('demo', 'DELETE', `/volume/backup/${id}`)).status).toBe(201);
  await waitFor(`backup ${id} gone`, async () =>
    (await stack.v1('demo', 'GET', `/volume/backup/${id}`)).status === 404 ? true : undefined,
  );
}

async function restoredSha(backupId: string) {
  const { body } = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: backupId } });
  await stack.cinder.waitVolume('demo', body.volume.id, 'available');
  return stack.cinder.sha256(body.volume.id);
}

/** The pack objects of a container's repository, whatever the backend (TEST_REPOSITORY). */
async function packObjects(container: string): Promise<string[]> {
  const store = stack.repository.openStore(`${stack.repository.url}/${container}`);
  const found: string[] = [];
  for await (const object of store.list('packs/')) found.push(object.key);
  return found;
}

async function waitForGc() {
  await waitFor('garbage collection to finish', async () => {
    const pending = await stack.db.prisma.job.count({
      where: { kind: 'repository_gc', status: { in: ['queued', 'running'] } },
    });
    return pending === 0 ? true : undefined;
  });
}

describe('delete and garbage collection', () => {
  it('deleting the parent of an incremental leaves the incremental restorable', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(4 * MiB));
    const full = await backup(volumeId, 'chain');
    await stack.cinder.write(volumeId, MiB, randomBytes(MiB));
    const wanted = await stack.cinder.sha256(volumeId);
    const incremental = await backup(volumeId, 'chain');
    expect(incremental.parent_id).toBe(full.id);
    await deleteBackup(full.id);
    await waitForGc();
    expect(await restoredSha(incremental.id)).toBe(wanted);
  });

  it('after deleting all backups of a volume, no chunk of it is left in the repository', async () => {
    const kept = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(kept, 0, randomBytes(2 * MiB));
    const keptSha = await stack.cinder.sha256(kept);
    const keptBackup = await backup(kept, 'gc');

    const doomed = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(doomed, 0, randomBytes(3 * MiB));
    const first = await backup(doomed, 'gc');
    await stack.cinder.write(doomed, 5 * MiB, randomBytes(MiB));
    const second = await backup(doomed, 'gc');
    const { repositoryId } = await stack.db.prisma.volumeBackup.findUniqueOrThrow({
      where: { id: keptBackup.id },
    });
    expect(await stack.db.prisma.chunk.count({ where: { repositoryId } })).toBe(32 + 48 + 16);

    await deleteBackup(first.id);
    await deleteBackup(second.id);
    await waitForGc();

    const packs = await packObjects('gc');
    const chunks = await stack.db.prisma.chunk.count({ where: { repositoryId } });
    // Only the kept volume's 2 MiB (32 chunks of 64 KiB) remain.
    expect(chunks).toBe(32);
    expect(packs.length).toBeGreaterThan(0);
    expect(await restoredSha(keptBackup.id)).toBe(keptSha);
  });
});
