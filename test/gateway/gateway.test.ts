import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstanceArtifact } from '../support/instances.js';
import { SimNova } from '../support/nova.js';
import {
  freePort,
  killLeftoverServices,
  type ServiceProcess,
  spawnService,
  waitUntilHealthy,
} from '../support/service-process.js';
import { type Stack, startStack, type UserName, waitFor, waitForBackup } from '../support/stack.js';

// Issue 5, acceptance 5: every row of the seed's gateway tables (§1.4, §2.4) goes through the
// reference gateway and reaches the right service. `x-gateway-upstream` says which service the gateway
// relayed to; Cinder's own `OpenStack-API-Version: volume …` header (which the backup service never
// sends itself) confirms Cinder answered; the bodies confirm the rest.

let stack: Stack;
let nova: SimNova;
let gateway: string;

beforeAll(async () => {
  stack = await startStack({ env: { GATEWAY_PORT: String(await freePort()) } });
  nova = new SimNova(stack);
  if (!stack.service.gatewayUrl) throw new Error('the service did not start its gateway');
  gateway = stack.service.gatewayUrl;
});
afterAll(async () => {
  killLeftoverServices();
  await stack?.close();
});

interface Answer {
  status: number;
  upstream: string | null;
  cinderVersion: string | null;
  body: any;
}

async function via(
  base: string,
  user: UserName | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const response = await fetch(`${base}/v1${path}`, {
    method,
    headers: {
      ...(user ? { 'x-auth-token': await stack.token(user) } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {}
  return {
    status: response.status,
    upstream: response.headers.get('x-gateway-upstream'),
    cinderVersion: response.headers.get('openstack-api-version'),
    body: parsed,
  };
}
const gw = (user: UserName | null, method: string, path: string, body?: unknown) =>
  via(gateway, user, method, path, body);

function fromCinder(answer: Answer, status: number) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.upstream).toBe('cinder');
  expect(answer.cinderVersion).toMatch(/^volume 3\./);
}

function fromBackupService(answer: Answer, status: number) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.upstream).toBe('backup');
  expect(answer.cinderVersion).toBeNull();
}

describe('§1.4 block: snapshots → Cinder /snapshots', () => {
  it('GET list, GET one, POST, DELETE', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    const created = await gw('demo', 'POST', '/block/snapshot', {
      snapshot: { volume_id: volumeId, name: 'via-gateway' },
    });
    fromCinder(created, 202);
    const id = created.body.snapshot.id;
    expect(created.body.snapshot).toMatchObject({ volume_id: volumeId, name: 'via-gateway' });
    await waitFor('snapshot available', async () =>
      (await stack.cinder.request('demo', 'GET', `/snapshots/${id}`)).body.snapshot.status === 'available'
        ? true
        : undefined,
    );
    const list = await gw('demo', 'GET', '/block/snapshot');
    fromCinder(list, 200);
    expect(list.body.snapshots.map((s: { id: string }) => s.id)).toContain(id);
    const one = await gw('demo', 'GET', `/block/snapshot/${id}`);
    fromCinder(one, 200);
    expect(one.body.snapshot).toMatchObject({ id, status: 'available' });
    const deleted = await gw('demo', 'DELETE', `/block/snapshot/${id}`);
    fromCinder(deleted, 202);
    await waitFor('snapshot gone', async () =>
      (await stack.cinder.request('demo', 'GET', `/snapshots/${id}`)).status === 404 ? true : undefined,
    );
  });
});

describe('§1.4 block: backups → backup /volume/backup', () => {
  it('GET list, GET one, POST, POST action, DELETE', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(65536));
    const created = await gw('demo', 'POST', '/block/backup', {
      backup: { volume_id: volumeId, name: 'gw' },
    });
    fromBackupService(created, 201);
    const id = created.body.backup.id;
    await waitForBackup(stack, 'demo', id);
    const list = await gw('demo', 'GET', '/block/backup');
    fromBackupService(list, 200);
    expect(list.body.backups.map((b: { id: string }) => b.id)).toContain(id);
    const one = await gw('demo', 'GET', `/block/backup/${id}`);
    fromBackupService(one, 200);
    expect(one.body.backup).toMatchObject({ id, name: 'gw', status: 'available' });
    const action = await gw('demo', 'POST', `/block/backup/${id}/action`, { update: { name: 'renamed' } });
    fromBackupService(action, 201);
    expect(action.body.backup.name).toBe('renamed');
    const deleted = await gw('demo', 'DELETE', `/block/backup/${id}`);
    fromBackupService(deleted, 201);
    expect(deleted.body).toEqual({ backup: { id } });
  });
});

describe('§1.4 block: volumes', () => {
  it('GET list and GET one → Cinder /volumes; DELETE → Cinder', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1, 'gw-volume');
    const list = await gw('demo', 'GET', '/block/volume');
    fromCinder(list, 200);
    expect(list.body.volumes.map((v: { id: string }) => v.id)).toContain(volumeId);
    const one = await gw('demo', 'GET', `/block/volume/${volumeId}`);
    fromCinder(one, 200);
    expect(one.body.volume).toMatchObject({ id: volumeId, name: 'gw-volume' });
    const deleted = await gw('demo', 'DELETE', `/block/volume/${volumeId}`);
    fromCinder(deleted, 202);
    await waitFor('volume gone', async () =>
      (await stack.cinder.request('demo', 'GET', `/volumes/${volumeId}`)).status === 404 ? true : undefined,
    );
  });

  it('POST → the backup service: a restore there, a plain create passed through to Cinder', async () => {
    const source = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(source, 0, randomBytes(65536));
    const backup = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: source } });
    await waitForBackup(stack, 'demo', backup.body.backup.id);
    const restore = await gw('demo', 'POST', '/block/volume', {
      volume: { backup_id: backup.body.backup.id },
    });
    fromBackupService(restore, 201);
    await stack.cinder.waitVolume('demo', restore.body.volume.id, 'available');
    expect(await stack.cinder.sha256(restore.body.volume.id)).toBe(await stack.cinder.sha256(source));

    const plain = await gw('demo', 'POST', '/block/volume', { volume: { size: 1, name: 'plain' } });
    expect(plain.status).toBe(202); // Cinder's answer, through the backup service's passthrough
    expect(plain.upstream).toBe('backup');
    expect(plain.cinderVersion).toMatch(/^volume 3\./);
    expect(plain.body.volume).toMatchObject({ name: 'plain', size: 1 });
  });

  it('POST …/action → the backup service: rollback there, other actions passed through to Cinder', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(65536));
    const snapshot = await stack.cinder.createSnapshot('demo', volumeId);
    const wanted = await stack.cinder.sha256(volumeId);
    await stack.cinder.write(volumeId, 0, randomBytes(65536));
    const rollback = await gw('demo', 'POST', `/block/volume/${volumeId}/action`, {
      rollback: { snapshot_id: snapshot },
    });
    fromBackupService(rollback, 201);
    expect(rollback.body.rollback).toMatchObject({ volume_id: volumeId, snapshot_id: snapshot });
    await waitFor('rollback done', async () => {
      const job = await stack.db.prisma.job.findUnique({ where: { id: rollback.body.rollback.job_id } });
      return job?.status === 'succeeded' ? true : undefined;
    });
    expect(await stack.cinder.sha256(volumeId)).toBe(wanted);

    const extend = await gw('demo', 'POST', `/block/volume/${volumeId}/action`, {
      'os-extend': { new_size: 2 },
    });
    expect(extend.status).toBe(202);
    expect(extend.upstream).toBe('backup');
    expect(extend.cinderVersion).toMatch(/^volume 3\./);
    await waitFor('extended', async () =>
      (await stack.cinder.volume('demo', volumeId)).size === 2 ? true : undefined,
    );
  });
});

describe('§2.4 compute: instance snapshots and backups → backup /instance/…', () => {
  it('snapshot: GET list, GET one, POST, DELETE; backup: GET list, GET one, POST, POST action, DELETE', async () => {
    const boot = await stack.cinder.createVolume('demo', 1);
    const serverId = await nova.createServer('demo', { bootVolumeId: boot });

    const snapshot = await gw('demo', 'POST', '/compute/snapshot', { snapshot: { instance_id: serverId } });
    fromBackupService(snapshot, 201);
    const snapshotId = snapshot.body.snapshot.id;
    await waitForInstanceArtifact(stack, 'demo', 'snapshot', snapshotId);
    const snapshots = await gw('demo', 'GET', '/compute/snapshot');
    fromBackupService(snapshots, 200);
    expect(snapshots.body.snapshots.map((s: { id: string }) => s.id)).toEqual([snapshotId]);
    const oneSnapshot = await gw('demo', 'GET', `/compute/snapshot/${snapshotId}`);
    fromBackupService(oneSnapshot, 200);
    expect(oneSnapshot.body.snapshot).toMatchObject({ id: snapshotId, instance_id: serverId });
    const deletedSnapshot = await gw('demo', 'DELETE', `/compute/snapshot/${snapshotId}`);
    fromBackupService(deletedSnapshot, 201);
    expect(deletedSnapshot.body).toEqual({ snapshot: { id: snapshotId } });

    const backup = await gw('demo', 'POST', '/compute/backup', { backup: { instance_id: serverId } });
    fromBackupService(backup, 201);
    const backupId = backup.body.backup.id;
    await waitForInstanceArtifact(stack, 'demo', 'backup', backupId);
    const backups = await gw('demo', 'GET', '/compute/backup');
    fromBackupService(backups, 200);
    expect(backups.body.backups.map((b: { id: string }) => b.id)).toEqual([backupId]);
    const oneBackup = await gw('demo', 'GET', `/compute/backup/${backupId}`);
    fromBackupService(oneBackup, 200);
    expect(oneBackup.body.backup.volume_backups).toHaveLength(1);
    const action = await gw('demo', 'POST', `/compute/backup/${backupId}/action`, { update: { name: 'gw' } });
    fromBackupService(action, 201);
    expect(action.body.backup.name).toBe('gw');
    const deletedBackup = await gw('demo', 'DELETE', `/compute/backup/${backupId}`);
    fromBackupService(deletedBackup, 201);
    expect(deletedBackup.body).toEqual({ backup: { id: backupId } });
  });
});

describe('what the gateway itself answers', () => {
  it("passes the caller's token: another project's volume is Cinder's 404, and no token is 401", async () => {
    const theirs = await stack.cinder.createVolume('alt_demo', 1);
    const foreign = await gw('demo', 'GET', `/block/volume/${theirs}`);
    fromCinder(foreign, 404);
    const anonymousCinder = await gw(null, 'GET', '/block/volume');
    expect(anonymousCinder.status).toBe(401);
    expect(anonymousCinder.upstream).toBeNull(); // the gateway could not even find the caller's Cinder
    const anonymousBackup = await gw(null, 'GET', '/block/backup');
    fromBackupService(anonymousBackup, 401); // the backup service's own 401
  });

  it('404 for what is not in the tables, 405 for a known path with another method, 400 for dot segments', async () => {
    const unknown = await gw('demo', 'GET', '/block/attachment');
    expect(unknown.status).toBe(404);
    expect(unknown.body.itemNotFound.code).toBe(404);
    const method = await gw('demo', 'PUT', '/block/snapshot/0b8f8d5e-6a0e-4f55-9d4e-2b7a4c1f0e11', {});
    expect(method.status).toBe(405);
    const slash = await gw('demo', 'GET', '/block/volume/a%2Fb');
    expect(slash.status).toBe(400);
    expect(slash.upstream).toBeNull();
    // fetch would resolve the dot segment itself: send the path as it is.
    const dots = await new Promise<number>((resolve, reject) => {
      const url = new URL(gateway);
      http
        .get({ host: url.hostname, port: url.port, path: '/v1/block/volume/%2E%2E' }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(dots).toBe(400);
  });

  it('`pnpm gateway` runs it on its own, in front of a given backup service', async () => {
    const port = await freePort();
    // spawnService derives its URL from PORT; the gateway itself listens on GATEWAY_PORT.
    const standalone: ServiceProcess = spawnService(
      {
        PORT: String(port),
        GATEWAY_PORT: String(port),
        GATEWAY_BACKUP_URL: stack.url,
        OS_AUTH_URL: stack.sim.urls.keystone,
      },
      'packages/app/src/gateway.ts',
    );
    await waitUntilHealthy(standalone);
    fromCinder(await via(standalone.url, 'demo', 'GET', '/block/volume'), 200);
    fromBackupService(await via(standalone.url, 'demo', 'GET', '/compute/backup'), 200);
    standalone.kill('SIGTERM');
    expect((await standalone.exited).code).toBe(0);
  });
});
