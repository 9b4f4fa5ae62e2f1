import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packIdOfKey, readPackIndex } from '../../packages/server/src/dataplane/pack.js';
import { type Stack, startStack, waitFor, waitForBackup } from '../support/stack.js';

// Acceptance 5: verify detects a chunk corrupted on disk and reports which backup is damaged.

const MiB = 1024 * 1024;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function backup(volumeId: string) {
  const { body } = await stack.v1('demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId, container: 'verify' },
  });
  return waitForBackup(stack, 'demo', body.backup.id);
}

async function verify(backupId: string) {
  const { status } = await stack.v1('demo', 'POST', `/volume/backup/${backupId}/action`, { verify: {} });
  expect(status).toBe(201);
  return waitFor(`verification of ${backupId}`, async () => {
    const row = await stack.db.prisma.volumeBackup.findUniqueOrThrow({ where: { id: backupId } });
    return row.verifiedAt ? row : undefined;
  });
}

describe('verify', () => {
  it('finds the corrupted chunk and marks only the backup that holds it damaged', async () => {
    const a = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(a, 0, randomBytes(MiB));
    const backupA = await backup(a);
    const packsBefore = new Set(await listPacks());
    const b = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(b, 0, randomBytes(MiB));
    const backupB = await backup(b);
    const packsOfB = (await listPacks()).filter((p) => !packsBefore.has(p));
    expect(packsOfB.length).toBeGreaterThan(0);

    expect((await verify(backupA.id)).verifyResult).toBe('ok');
    // Flip one byte inside B's first stored chunk, where the pack's index puts it (the object
    // rewritten whole: S3 and Swift objects cannot change in place).
    const store = repositoryStore();
    const [first] = await readPackIndex(store, packIdOfKey(packsOfB[0] as string)!);
    const pack = (await store.get(packsOfB[0] as string))!;
    const at = first!.offset + 100;
    pack[at] = (pack[at] ?? 0) ^ 0xff;
    const writer = await store.createWriter(packsOfB[0] as string);
    await writer.write(pack);
    await writer.commit();

    const damaged = await verify(backupB.id);
    expect(damaged.verifyResult).toBe('damaged');
    const shown = await stack.v1('demo', 'GET', `/volume/backup/${backupB.id}`);
    expect(shown.body.backup.status).toBe('error');
    expect(shown.body.backup.fail_reason).toMatch(
      /verification found 1 damaged chunk\(s\) of 16: [0-9a-f]{64}/,
    );
    expect((await verify(backupA.id)).verifyResult).toBe('ok');
    expect((await stack.v1('demo', 'GET', `/volume/backup/${backupA.id}`)).body.backup.status).toBe(
      'available',
    );
  });
});

/** The `verify` container's repository as an object store, whatever the backend (TEST_REPOSITORY). */
function repositoryStore() {
  return stack.repository.openStore(`${stack.repository.url}/verify`);
}

async function listPacks(): Promise<string[]> {
  const out: string[] = [];
  for await (const object of repositoryStore().list('packs/')) out.push(object.key);
  return out;
}
