import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../support/stack.js';

// The SDK as a TypeScript program gets it: packed (`pnpm pack`: compiled JS and one bundled .d.ts),
// installed with npm from the registry into an empty directory, used against a live server — with
// nothing of this repository beside it.

const run = promisify(execFile);
const sdkDir = fileURLToPath(new URL('../../packages/sdk', import.meta.url));
let stack: Stack;
let dir: string;

beforeAll(async () => {
  stack = await startStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'sdk-consumer-'));
  // The pnpm running this suite (`npx pnpm test` has none on the PATH), else the one on the PATH.
  const execPath = process.env.npm_execpath;
  const ours = execPath && /pnpm/.test(path.basename(execPath)) ? execPath : undefined;
  const [pnpm, ...pnpmArgs] = !ours ? ['pnpm'] : /\.[cm]?js$/.test(ours) ? [process.execPath, ours] : [ours];
  await run(pnpm as string, [...pnpmArgs, 'pack', '--pack-destination', dir], { cwd: sdkDir });
  const [tarball] = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `./${tarball}`], {
    cwd: dir,
    env: { ...process.env, npm_config_workspaces: 'false' },
  });
}, 300_000);
afterAll(async () => {
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed SDK', () => {
  it('carries its types inlined and depends on nothing of the server', async () => {
    const installed = path.join(dir, 'node_modules/@backup-service/sdk');
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8'));
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual(['@trpc/client', '@trpc/server']);
    const types = await readFile(path.join(installed, manifest.exports['.'].types), 'utf8');
    expect(types).not.toContain('@backup-service/server');
    expect(types).not.toMatch(/from ["'](@prisma|zod|fastify|\.\.?\/)/);
    expect(types).toContain('interface VolumeBackupView');
    const installedPackages = await readdir(path.join(dir, 'node_modules/@backup-service'));
    expect(installedPackages).toEqual(['sdk']);
  });

  it('runs a program against a live server, and TypeScript checks one', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(64 * 1024));
    await writeFile(
      path.join(dir, 'program.mjs'),
      `import { createBackupClient, waitFor, items } from '@backup-service/sdk';
const client = createBackupClient({
  url: process.env.BACKUP_URL,
  keystone: { authUrl: process.env.OS_AUTH_URL, username: 'demo', password: 'demo', project: 'demo' },
});
const created = await client.volumeBackups.create.mutate({ volumeId: process.env.VOLUME_ID, name: 'from-npm' });
const backup = await waitFor(client.volumeBackups.get, { id: created.id }, { status: 'available', intervalMs: 50 });
const listed = [];
for await (const b of items(client.volumeBackups.list, { volumeId: process.env.VOLUME_ID })) listed.push(b.id);
console.log(JSON.stringify({ id: backup.id, status: backup.status, name: backup.name, listed }));
`,
    );
    const { stdout } = await run(process.execPath, ['program.mjs'], {
      cwd: dir,
      env: {
        ...process.env,
        BACKUP_URL: stack.url,
        OS_AUTH_URL: stack.sim.urls.keystone,
        VOLUME_ID: volumeId,
      },
    });
    const result = JSON.parse(stdout.trim());
    expect(result).toMatchObject({ status: 'available', name: 'from-npm', listed: [result.id] });

    await writeFile(
      path.join(dir, 'check.ts'),
      `import { createBackupClient, type VolumeBackupView } from '@backup-service/sdk';
const client = createBackupClient({ url: 'http://127.0.0.1:8110', token: 't' });
export async function f(): Promise<VolumeBackupView> {
  // @ts-expect-error volumeId must be a string
  await client.volumeBackups.create.mutate({ volumeId: 1 });
  return client.volumeBackups.get.query({ id: 'x' });
}
`,
    );
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          // tRPC's client declares fetch with the DOM's types, and its server uses `using` (disposables).
          lib: ['es2023', 'dom', 'esnext.disposable'],
          types: [],
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['check.ts'],
      }),
    );
    const tsc = path.join(dir, 'node_modules/typescript/bin/tsc');
    await expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir })).resolves.toBeDefined();
  });
});
