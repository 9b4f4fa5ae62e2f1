import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';

// Acceptance 7: no token or a bad one → 401; another project's backup → 404 on show, update and
// delete; reader → 403 on every write; admin with all_tenants=1 sees all.

let stack: Stack;
let demoBackup: string;
let altBackup: string;
let demoVolume: string;

beforeAll(async () => {
  stack = await startStack();
  demoVolume = await stack.cinder.createVolume('demo', 1);
  await stack.cinder.write(demoVolume, 0, randomBytes(65536));
  const altVolume = await stack.cinder.createVolume('alt_demo', 1);
  demoBackup = (await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: demoVolume } })).body
    .backup.id;
  altBackup = (await stack.v1('alt_demo', 'POST', '/volume/backup', { backup: { volume_id: altVolume } }))
    .body.backup.id;
  await waitForBackup(stack, 'demo', demoBackup);
  await waitForBackup(stack, 'alt_demo', altBackup);
});
afterAll(() => stack?.close());

describe('authentication', () => {
  it.each([
    ['GET', '/volume/backup'],
    ['POST', '/volume/backup'],
    ['GET', '/volume/detail'],
    ['POST', '/volume'],
  ])('%s %s without a token is 401', async (method, path) => {
    const { status, body, headers } = await stack.v1(null, method, path, method === 'POST' ? {} : undefined);
    expect(status).toBe(401);
    expect(body.unauthorized.code).toBe(401);
    expect(headers.get('www-authenticate')).toMatch(/^Keystone uri=/);
  });

  it('a bad or made-up token is 401', async () => {
    for (const token of ['nonsense', `gAAAAA${randomBytes(40).toString('base64url')}`]) {
      const { status } = await stack.v1(null, 'GET', '/volume/backup', undefined, { 'x-auth-token': token });
      expect(status).toBe(401);
    }
  });
});

describe('project scoping', () => {
  it("another project's backup is 404 on show, update, delete and every action", async () => {
    const notFound = { itemNotFound: { code: 404, message: `Backup ${altBackup} could not be found.` } };
    expect((await stack.v1('demo', 'GET', `/volume/backup/${altBackup}`)).body).toEqual(notFound);
    expect(
      (await stack.v1('demo', 'POST', `/volume/backup/${altBackup}/action`, { update: { name: 'x' } })).body,
    ).toEqual(notFound);
    expect(
      (await stack.v1('demo', 'POST', `/volume/backup/${altBackup}/action`, { restore: {} })).body,
    ).toEqual(notFound);
    expect((await stack.v1('demo', 'DELETE', `/volume/backup/${altBackup}`)).body).toEqual(notFound);
    expect((await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: altBackup } })).status).toBe(
      404,
    );
    const list = await stack.v1('demo', 'GET', '/volume/backup');
    expect(list.body.backups.map((b: { id: string }) => b.id)).toEqual([demoBackup]);
  });

  it("backing up another project's volume is 404", async () => {
    const altVolume = await stack.cinder.createVolume('alt_demo', 1);
    const { status } = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: altVolume } });
    expect(status).toBe(404);
  });

  it("admin with all_tenants=1 sees every project's backups; without it only its own", async () => {
    const all = await stack.v1('admin', 'GET', '/volume/backup?all_tenants=1');
    expect(all.body.backups.map((b: { id: string }) => b.id).sort()).toEqual([demoBackup, altBackup].sort());
    const own = await stack.v1('admin', 'GET', '/volume/backup');
    expect(own.body.backups).toEqual([]);
    expect((await stack.v1('demo', 'GET', '/volume/backup?all_tenants=1')).status).toBe(403);
  });
});

describe('the reader role', () => {
  it('may read', async () => {
    expect((await stack.v1('reader', 'GET', '/volume/backup')).status).toBe(200);
    expect((await stack.v1('reader', 'GET', `/volume/backup/${demoBackup}`)).status).toBe(200);
  });

  it.each([
    ['POST', '/volume/backup', () => ({ backup: { volume_id: demoVolume } })],
    ['POST', 'action', () => ({ update: { name: 'x' } })],
    ['POST', 'action', () => ({ restore: {} })],
    ['POST', 'action', () => ({ verify: {} })],
    ['POST', 'action', () => ({ 'os-reset_status': { status: 'error' } })],
    ['DELETE', 'backup', () => undefined],
    ['POST', '/volume', () => ({ volume: { backup_id: demoBackup } })],
  ])('gets 403 on %s %s', async (method, target, body) => {
    const path =
      target === 'action'
        ? `/volume/backup/${demoBackup}/action`
        : target === 'backup'
          ? `/volume/backup/${demoBackup}`
          : target;
    const { status, body: answer } = await stack.v1('reader', method, path, body());
    expect(status).toBe(403);
    expect(answer.forbidden.code).toBe(403);
  });
});

describe('admin-only actions', () => {
  it('reset_status is 403 for members and works for admin', async () => {
    expect(
      (
        await stack.v1('demo', 'POST', `/volume/backup/${demoBackup}/action`, {
          'os-reset_status': { status: 'error' },
        })
      ).status,
    ).toBe(403);
    const reset = await stack.v1('admin', 'POST', `/volume/backup/${demoBackup}/action`, {
      'os-reset_status': { status: 'error' },
    });
    expect(reset.status).toBe(201);
    expect(reset.body.backup.status).toBe('error');
    await stack.v1('admin', 'POST', `/volume/backup/${demoBackup}/action`, {
      'os-reset_status': { status: 'available' },
    });
  });
});
