import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/service-process.js';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';

// Issue 10, acceptance 4, on the backend TEST_REPOSITORY selects (encrypted): drop the service's
// database, start a fresh one on the same repositories, run the recovery (the `pnpm recover` command
// for the default repository, the admin API action for a container's): every backup is listed again
// and restores byte-identical; backups go on incrementally from the recovered ones.

const MiB = 1024 * 1024;
const KEY = randomBytes(32).toString('hex');
let before: Stack;
let after: Stack | undefined;

beforeAll(async () => {
  before = await startStack({ env: { REPOSITORY_KEY: KEY } });
});
afterAll(async () => {
  await after?.close();
  await before?.close();
});

interface Taken {
  id: string;
  sha256: string;
  name: string;
  volumeId: string;
}

async function backup(stack: Stack, volumeId: string, extra: Record<string, unknown>): Promise<Taken> {
  const { status, body } = await stack.v1('demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId, ...extra },
  });
  expect(status, JSON.stringify(body)).toBe(201);
  const done = await waitForBackup(stack, 'demo', body.backup.id);
  return { id: done.id, sha256: await stack.cinder.sha256(volumeId), name: done.name, volumeId };
}

async function restoredSha(stack: Stack, backupId: string) {
  const { status, body } = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: backupId } });
  expect(status, JSON.stringify(body)).toBe(201);
  await stack.cinder.waitVolume('demo', body.volume.id, 'available', 120_000);
  return stack.cinder.sha256(body.volume.id);
}

/** `pnpm recover` as an operator runs it: a process of its own with the service's configuration. */
function recoverCommand(stack: Stack, args: string[]): Promise<{ code: number | null; output: string }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    DATABASE_URL: stack.db.url,
    OS_AUTH_URL: stack.sim.urls.keystone,
    OS_USERNAME: stack.sim.serviceUser.name,
    OS_PASSWORD: stack.sim.serviceUser.password,
    OS_PROJECT_NAME: stack.sim.serviceUser.project,
    FILE_DRIVER_DIR: stack.sim.volumesDir,
    REPOSITORY_URL: stack.repository.url,
    REPOSITORY_KEY: KEY,
    ...stack.repository.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/app/src/recover.ts', ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe(`recovery without the database (${process.env.TEST_REPOSITORY ?? 'file'})`, () => {
  const taken: Taken[] = [];

  it('lists and restores every backup again from a fresh database', async () => {
    // Before: a full and an incremental backup of one volume in the default repository, and one of
    // another volume in a container's repository.
    const a = await before.cinder.createVolume('demo', 1);
    await before.cinder.write(a, 0, randomBytes(3 * MiB));
    taken.push(await backup(before, a, { name: 'a-full', description: 'first' }));
    await before.cinder.write(a, MiB, randomBytes(MiB));
    await before.cinder.write(a, 600 * MiB, randomBytes(2 * MiB));
    taken.push(await backup(before, a, { name: 'a-incremental', metadata: { tier: 'gold' } }));
    const b = await before.cinder.createVolume('demo', 1);
    await before.cinder.write(b, 10 * MiB, randomBytes(2 * MiB));
    taken.push(await backup(before, b, { name: 'b-archived', container: 'archive' }));
    const listedBefore = (await before.v1('demo', 'GET', '/volume/backup')).body.backups;
    expect(listedBefore).toHaveLength(3);

    // The database is lost.
    await before.service.close();
    await before.db.drop();

    after = await startStack({
      sim: before.sim,
      repository: before.repository,
      env: { REPOSITORY_KEY: KEY },
    });
    expect((await after.v1('demo', 'GET', '/volume/backup')).body.backups).toEqual([]);

    // The default repository with the command…
    const command = await recoverCommand(after, []);
    expect(command.output).toMatch(
      /recovered 2 backup\(s\) from \S+ \(0 known already, 0 skipped; \d+ pack\(s\), 96 chunk\(s\) indexed\)/,
    );
    expect(command.code, command.output).toBe(0);
    // …the container's with the admin API action (others may not).
    expect(
      (await after.v1('demo', 'POST', '/volume/backup/import', { import: { container: 'archive' } })).status,
    ).toBe(403);
    const imported = await after.v1('admin', 'POST', '/volume/backup/import', {
      import: { container: 'archive' },
    });
    expect(imported.status, imported.text).toBe(201);
    expect(imported.body.import).toMatchObject({
      imported: [taken[2]!.id],
      already_known: [],
      skipped: [],
      indexed_chunks: 32,
      damaged_packs: [],
    });

    // Every backup is listed again as it was, and restores byte-identical.
    // (What each backup added to the repository is not known any more: stored_bytes is 0.)
    const listed = (await after.v1('demo', 'GET', '/volume/backup')).body.backups;
    const comparable = (list: Array<Record<string, unknown>>) =>
      list
        .map(({ updated_at, links, stored_bytes, ...rest }) => rest)
        .sort((x, y) => String(x.id).localeCompare(String(y.id)));
    expect(comparable(listed)).toEqual(comparable(listedBefore));
    expect(listed.every((b: { stored_bytes: number }) => b.stored_bytes === 0)).toBe(true);
    for (const backup of taken) expect(await restoredSha(after, backup.id)).toBe(backup.sha256);
  }, 300_000);

  it('goes on incrementally from a recovered backup, and a second recovery changes nothing', async () => {
    const stack = after!;
    const [, incremental] = taken as [Taken, Taken, Taken];
    await stack.cinder.write(incremental.volumeId, 700 * MiB, randomBytes(MiB));
    const next = await backup(stack, incremental.volumeId, { name: 'a-after-recovery' });
    const shown = (await stack.v1('demo', 'GET', `/volume/backup/${next.id}`)).body.backup;
    expect(shown).toMatchObject({ is_incremental: true });
    expect(await restoredSha(stack, next.id)).toBe(next.sha256);

    const again = await stack.v1('admin', 'POST', '/volume/backup/import', {});
    expect(again.status).toBe(201);
    expect(again.body.import).toMatchObject({ imported: [], skipped: [], indexed_packs: 0 });
    expect(again.body.import.already_known).toHaveLength(3);
  }, 300_000);
});
