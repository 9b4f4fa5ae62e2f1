import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstanceArtifact } from '../support/instances.js';
import { SimNova } from '../support/nova.js';
import { type Stack, startStack } from '../support/stack.js';

// Issue 5, acceptance 6: authentication and project scoping on /instance/snapshot and
// /instance/backup, as for volume backups: 401 without a valid token, another project's id is 404,
// reader may only read (403), all_tenants=1 for admins only.

let stack: Stack;
let nova: SimNova;
const mine = { server: '', snapshot: '', backup: '' };
const theirs = { server: '', snapshot: '', backup: '' };

async function capture(user: 'demo' | 'alt_demo', into: typeof mine) {
  const boot = await stack.cinder.createVolume(user, 1);
  await stack.cinder.write(boot, 0, randomBytes(65536));
  into.server = await nova.createServer(user, { bootVolumeId: boot });
  const snapshot = await stack.v1(user, 'POST', '/instance/snapshot', {
    snapshot: { instance_id: into.server },
  });
  into.snapshot = snapshot.body.snapshot.id;
  await waitForInstanceArtifact(stack, user, 'snapshot', into.snapshot);
  const backup = await stack.v1(user, 'POST', '/instance/backup', { backup: { instance_id: into.server } });
  into.backup = backup.body.backup.id;
  await waitForInstanceArtifact(stack, user, 'backup', into.backup);
}

beforeAll(async () => {
  stack = await startStack();
  nova = new SimNova(stack);
  await capture('demo', mine);
  await capture('alt_demo', theirs);
});
afterAll(() => stack?.close());

describe('authentication', () => {
  it.each([
    ['GET', '/instance/snapshot'],
    ['POST', '/instance/snapshot'],
    ['GET', '/instance/backup'],
    ['POST', '/instance/backup'],
  ])('%s %s without a token or with a bad one is 401', async (method, path) => {
    const body = method === 'POST' ? {} : undefined;
    const missing = await stack.v1(null, method, path, body);
    expect(missing.status).toBe(401);
    expect(missing.body.unauthorized.code).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Keystone uri=/);
    const bad = await stack.v1(null, method, path, body, { 'x-auth-token': 'nonsense' });
    expect(bad.status).toBe(401);
  });

  it('every route of one record is 401 without a token', async () => {
    for (const [method, path] of [
      ['GET', `/instance/snapshot/${mine.snapshot}`],
      ['DELETE', `/instance/snapshot/${mine.snapshot}`],
      ['GET', `/instance/backup/${mine.backup}`],
      ['POST', `/instance/backup/${mine.backup}/action`],
      ['DELETE', `/instance/backup/${mine.backup}`],
    ] as const) {
      const { status } = await stack.v1(null, method, path, method === 'POST' ? { update: {} } : undefined);
      expect(status, `${method} ${path}`).toBe(401);
    }
  });
});

describe('project scoping', () => {
  it("another project's instance snapshot and backup are 404 on show, action and delete", async () => {
    const snapshot = await stack.v1('demo', 'GET', `/instance/snapshot/${theirs.snapshot}`);
    expect(snapshot.body).toEqual({
      itemNotFound: { code: 404, message: `Instance snapshot ${theirs.snapshot} could not be found.` },
    });
    expect((await stack.v1('demo', 'DELETE', `/instance/snapshot/${theirs.snapshot}`)).status).toBe(404);
    const backup = await stack.v1('demo', 'GET', `/instance/backup/${theirs.backup}`);
    expect(backup.body).toEqual({
      itemNotFound: { code: 404, message: `Instance backup ${theirs.backup} could not be found.` },
    });
    const action = await stack.v1('demo', 'POST', `/instance/backup/${theirs.backup}/action`, {
      update: { name: 'mine now' },
    });
    expect(action.status).toBe(404);
    expect((await stack.v1('demo', 'DELETE', `/instance/backup/${theirs.backup}`)).status).toBe(404);
    // Still theirs, untouched.
    const still = await stack.v1('alt_demo', 'GET', `/instance/backup/${theirs.backup}`);
    expect(still.body.backup).toMatchObject({ status: 'available', name: null });
  });

  it("capturing another project's instance is 404", async () => {
    for (const kind of ['snapshot', 'backup'] as const) {
      const { status, body } = await stack.v1('demo', 'POST', `/instance/${kind}`, {
        [kind]: { instance_id: theirs.server },
      });
      expect(status).toBe(404);
      expect(body.itemNotFound.message).toBe(`Instance ${theirs.server} could not be found.`);
    }
  });

  it('lists show only the own project; admin sees all with all_tenants=1; others may not ask', async () => {
    for (const kind of ['snapshot', 'backup'] as const) {
      const key = `${kind}s`;
      const own = await stack.v1('demo', 'GET', `/instance/${kind}`);
      expect(own.body[key].map((x: { id: string }) => x.id)).toEqual([mine[kind]]);
      const all = await stack.v1('admin', 'GET', `/instance/${kind}?all_tenants=1`);
      expect(all.body[key].map((x: { id: string }) => x.id).sort()).toEqual(
        [mine[kind], theirs[kind]].sort(),
      );
      expect((await stack.v1('admin', 'GET', `/instance/${kind}`)).body[key]).toEqual([]);
      expect((await stack.v1('demo', 'GET', `/instance/${kind}?all_tenants=1`)).status).toBe(403);
      // An admin reads any project's record by id (as Cinder's admin_or_owner).
      expect((await stack.v1('admin', 'GET', `/instance/${kind}/${theirs[kind]}`)).status).toBe(200);
    }
  });
});

describe('the reader role', () => {
  it('reads, but every write is 403', async () => {
    expect((await stack.v1('reader', 'GET', '/instance/snapshot')).body.snapshots).toHaveLength(1);
    expect((await stack.v1('reader', 'GET', `/instance/backup/${mine.backup}`)).status).toBe(200);
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/instance/snapshot', { snapshot: { instance_id: mine.server } }],
      ['DELETE', `/instance/snapshot/${mine.snapshot}`, undefined],
      ['POST', '/instance/backup', { backup: { instance_id: mine.server } }],
      ['POST', `/instance/backup/${mine.backup}/action`, { update: { name: 'x' } }],
      ['DELETE', `/instance/backup/${mine.backup}`, undefined],
    ];
    for (const [method, path, body] of writes) {
      const { status, body: answer } = await stack.v1('reader', method, path, body);
      expect(status, `${method} ${path}`).toBe(403);
      expect(answer.forbidden.code).toBe(403);
    }
  });

  it('reset_status is for admins only', async () => {
    const asOwner = await stack.v1('demo', 'POST', `/instance/backup/${mine.backup}/action`, {
      reset_status: { status: 'error' },
    });
    expect(asOwner.status).toBe(403);
    const asAdmin = await stack.v1('admin', 'POST', `/instance/backup/${mine.backup}/action`, {
      'os-reset_status': { status: 'available' },
    });
    expect(asAdmin.status).toBe(201);
    expect(asAdmin.body.backup.status).toBe('available');
  });
});
