import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlaintextRuns } from '../support/plaintext.js';
import { type Stack, startStack, waitFor, waitForBackup } from '../support/stack.js';

// Issue 10, acceptance 2, on the backend TEST_REPOSITORY selects: with encryption on, no chunk or
// manifest object holds a 4 KiB run of the volume's plaintext (a recognizable pattern is written and
// searched for in every stored object); restore with the right key is byte-identical; with a wrong
// key it fails with a clear error.

const MiB = 1024 * 1024;
const KEY = randomBytes(32).toString('base64');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { REPOSITORY_KEY: KEY } });
});
afterAll(() => stack?.close());

/** The pattern: incompressible bytes (kept raw if not encrypted) and a text that repeats. */
function pattern(): Buffer[] {
  const random = randomBytes(3 * MiB);
  const line = Buffer.from('RECOGNIZABLE PLAINTEXT of the volume: backups must not show it at rest.\n');
  const text = Buffer.alloc(2 * MiB);
  for (let at = 0; at < text.length; at += line.length) line.copy(text, at);
  return [random, text];
}

async function readVolume(volumeId: string, offset: number, length: number): Promise<Buffer> {
  const response = await fetch(
    `${stack.sim.urls.cinder}/_sim/volumes/${volumeId}/data?offset=${offset}&length=${length}`,
  );
  return Buffer.from(await response.arrayBuffer());
}

describe(`encryption at rest (${process.env.TEST_REPOSITORY ?? 'file'})`, () => {
  let backupId: string;
  let volumeId: string;
  let original: string;

  it('stores nothing of the plaintext and restores byte-identical with the key', async () => {
    volumeId = await stack.cinder.createVolume('demo', 1);
    const [random, text] = pattern() as [Buffer, Buffer];
    await stack.cinder.write(volumeId, 0, random);
    await stack.cinder.write(volumeId, 100 * MiB, text);
    original = await stack.cinder.sha256(volumeId);
    const created = await stack.v1('demo', 'POST', '/volume/backup', {
      backup: { volume_id: volumeId, name: 'secret', description: 'DESCRIPTION-IN-CLEAR?' },
    });
    expect(created.status).toBe(201);
    backupId = (await waitForBackup(stack, 'demo', created.body.backup.id)).id;

    const store = stack.repository.openStore();
    const objects: Array<{ name: string; data: Buffer }> = [];
    for await (const object of store.list('')) {
      if (object.key.startsWith('packs/') || object.key.startsWith('manifests/'))
        objects.push({ name: object.key, data: (await store.get(object.key))! });
    }
    expect(objects.some((o) => o.name.startsWith('packs/'))).toBe(true);
    expect(objects.some((o) => o.name === `manifests/${backupId}`)).toBe(true);
    const plaintext = Buffer.concat([
      await readVolume(volumeId, 0, 3 * MiB),
      await readVolume(volumeId, 100 * MiB, 2 * MiB),
    ]);
    expect(plaintext.subarray(0, 3 * MiB).equals(random)).toBe(true);
    expect(findPlaintextRuns(plaintext, objects)).toEqual([]);
    for (const object of objects) {
      expect(object.data.includes('RECOGNIZABLE')).toBe(false);
      expect(object.data.includes('DESCRIPTION-IN-CLEAR')).toBe(false);
      expect(object.data.includes(volumeId)).toBe(false);
    }

    const { status, body } = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: backupId } });
    expect(status).toBe(201);
    await stack.cinder.waitVolume('demo', body.volume.id, 'available', 120_000);
    expect(await stack.cinder.sha256(body.volume.id)).toBe(original);
  }, 300_000);

  it('fails to restore with a wrong key, saying so', async () => {
    // The same database and repository, served with another key (the right one stopped first, so
    // that it cannot take the restore job).
    await stack.service.close();
    const wrong = await startStack({
      sim: stack.sim,
      db: stack.db,
      repository: stack.repository,
      env: { REPOSITORY_KEY: randomBytes(32).toString('hex') },
    });
    try {
      const { status, body } = await wrong.v1('demo', 'POST', '/volume', { volume: { backup_id: backupId } });
      expect(status).toBe(201);
      const target = body.volume.id as string;
      await wrong.cinder.waitVolume('demo', target, 'error_restoring', 120_000);
      const job = await waitFor('the failed restore job', async () => {
        const row = await stack.db.prisma.job.findFirst({
          where: { kind: 'volume_backup_restore', volumeBackupId: backupId, status: 'failed' },
        });
        return row ?? undefined;
      });
      expect(job.error).toMatch(
        /The backup repository cannot be opened: repository \S+ is encrypted, and the configured key \(id [0-9a-f]{16}\) is not one of its keys/,
      );
      // No byte of garbage was written as if it were the backup.
      expect((await readVolume(target, 0, MiB)).every((byte) => byte === 0)).toBe(true);
      // A new backup into that repository is refused at once, with the reason.
      const refused = await wrong.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volumeId } });
      expect(refused.status).toBe(500);
      expect(refused.body.computeFault.message).toMatch(
        /is not one of its keys \(ids [0-9a-f]{16}\): wrong REPOSITORY_KEY\?/,
      );
    } finally {
      await wrong.close();
    }
  }, 300_000);
});
