/**
 * Acceptance 1: for every sample in ../shared/openstack-api-samples/ that the simulator covers, the
 * simulator's answer to the same request (same body, same microversion; ids replaced by the
 * simulator's own) has the same status class and the same keys, recursively, as the sample.
 * Request-only samples are sent as is and must get the status the README documents.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { call, clients, type Json, login, SAMPLES_DIR, startTestSim, waitFor } from './helpers.js';

/** Every sample the simulator answers, with the request that reproduces it. */
const COVERED = [
  'keystone/auth/requests/project-id-password.json',
  'keystone/auth/requests/project-name-password.json',
  'keystone/auth/responses/project-scoped-password.json',
  'keystone/admin/auth-password-project-scoped-response.json',
  'cinder/versions/versions-response.json',
  'cinder/versions/version-show-response.json',
  'cinder/volumes/volume-create-request.json',
  'cinder/volumes/volume-create-response.json',
  'cinder/volumes/v3.69/volume-create-response.json',
  'cinder/volumes/volume-show-response.json',
  'cinder/volumes/v3.69/volume-show-response.json',
  'cinder/volumes/volume-update-request.json',
  'cinder/volumes/volume-update-response.json',
  'cinder/volumes/v3.69/volume-update-response.json',
  'cinder/volumes/volumes-list-response.json',
  'cinder/volumes/volumes-list-detailed-response.json',
  'cinder/volumes/v3.69/volumes-list-detailed-response.json',
  'cinder/snapshots/snapshot-create-request.json',
  'cinder/snapshots/snapshot-create-response.json',
  'cinder/snapshots/v3.65/snapshot-create-response.json',
  'cinder/snapshots/snapshot-show-response.json',
  'cinder/snapshots/v3.65/snapshot-show-response.json',
  'cinder/snapshots/snapshots-list-response.json',
  'cinder/snapshots/snapshots-list-detailed-response.json',
  'cinder/snapshots/v3.65/snapshots-list-detailed-response.json',
  'cinder/volume-extend-request.json',
  'cinder/volume-os-extend_volume_completion-request.json',
  'cinder/volume-status-reset-request.json',
  'cinder/volume-revert-to-snapshot-request.json',
  'cinder/volume-attach-request.json',
  'cinder/volume-begin-detaching-request.json',
  'cinder/volume-roll-detaching-request.json',
  'cinder/volume-detach-request.json',
  'cinder/volume-force-detach-request.json',
  'cinder/volume-reserve-request.json',
  'cinder/volume-unreserve-request.json',
  'cinder/volume-initialize-connection-request.json',
  'cinder/volume-terminate-connection-request.json',
  'cinder/attachment-create-request.json',
  'cinder/attachment-create-response.json',
  'cinder/attachment-show-response.json',
  'cinder/attachment-update-request.json',
  'cinder/attachment-update-response.json',
  'cinder/attachment-complete.json',
  'nova/versions/versions-get-resp.json',
  'nova/versions/v21-version-get-resp.json',
  'nova/flavors/flavor-get-resp.json',
  'nova/flavors/v2.102/flavor-get-resp.json',
  'nova/servers/server-get-resp.json',
  'nova/servers/v2.100/server-get-resp.json',
  'nova/servers/servers-details-resp.json',
  'nova/servers/v2.100/servers-details-resp.json',
  'nova/servers/server-action-stop.json',
  'nova/servers/server-action-start.json',
  'nova/os-pause-server/pause-server.json',
  'nova/os-pause-server/unpause-server.json',
  'nova/os-suspend-server/server-suspend.json',
  'nova/os-suspend-server/server-resume.json',
  'nova/servers/server-action-create-image.json',
  'nova/servers/v2.45/server-action-create-image.json',
  'nova/servers/v2.45/server-action-create-image-resp.json',
  'nova/os-create-backup/create-backup-req.json',
  'nova/os-create-backup/v2.45/create-backup-req.json',
  'nova/os-create-backup/v2.45/create-backup-resp.json',
  'nova/os-volume_attachments/attach-volume-to-server-req.json',
  'nova/os-volume_attachments/attach-volume-to-server-resp.json',
  'nova/os-volume_attachments/v2.79/attach-volume-to-server-req.json',
  'nova/os-volume_attachments/v2.79/attach-volume-to-server-resp.json',
  'nova/os-volume_attachments/v2.101/attach-volume-to-server-req.json',
  'nova/os-volume_attachments/list-volume-attachments-resp.json',
  'nova/os-volume_attachments/v2.101/list-volume-attachments-resp.json',
  'nova/os-volume_attachments/volume-attachment-detail-resp.json',
  'nova/os-volume_attachments/v2.101/volume-attachment-detail-resp.json',
  'glance/image-versions-response.json',
  'glance/image-create-request.json',
  'glance/image-create-response.json',
  'glance/image-show-response.json',
  'glance/images-list-response.json',
];

/** Samples the simulator deliberately does not answer. */
const NOT_COVERED: Record<string, string> = {
  'cinder/backups/backup-create-request.json':
    "Cinder's backup API is not simulated (the backup service replaces it)",
  'cinder/backups/backup-create-response.json': "Cinder's backup API is not simulated",
  'cinder/backups/backup-show-response.json': "Cinder's backup API is not simulated",
  'cinder/backups/backups-list-detailed-response.json': "Cinder's backup API is not simulated",
  'cinder/backups/v3.56/backup-create-response.json': "Cinder's backup API is not simulated",
  'cinder/backups/v3.56/backup-show-response.json': "Cinder's backup API is not simulated",
  'cinder/backups/v3.56/backups-list-detailed-response.json': "Cinder's backup API is not simulated",
  'cinder/backups/v3.9/backup-update-request.json': "Cinder's backup API is not simulated",
  'cinder/backups/v3.9/backup-update-response.json': "Cinder's backup API is not simulated",
  'cinder/backup-restore-request.json': "Cinder's backup API is not simulated",
  'cinder/backup-restore-response.json': "Cinder's backup API is not simulated",
};

/**
 * Values that are data rather than schema: only "is an object" is compared. User `metadata` (any
 * resource), flavor extra specs (DevStack's flavors have none; the sample's flavor has two) and an
 * attachment's connection_info (whatever the backend driver returns; the sample's is a fake driver's).
 * Paths are written with `[]` for any array index.
 */
const FREE_FORM = new Set(['$.flavor.extra_specs', '$.attachment.connection_info']);
const isFreeForm = (path: string) =>
  path.endsWith('.metadata') || FREE_FORM.has(path.replace(/\[\d+\]/g, '[]'));

function allSampleFiles(dir = SAMPLES_DIR): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return allSampleFiles(p);
    return name.endsWith('.json') ? [relative(SAMPLES_DIR, p)] : [];
  });
}

const sample = (rel: string): Json => {
  expect(COVERED, `${rel} must be listed in COVERED`).toContain(rel);
  return JSON.parse(readFileSync(join(SAMPLES_DIR, rel), 'utf8'));
};

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Same keys, recursively. Arrays: each element against the sample's element at that index (or its first). */
function shapeDiff(actual: unknown, expected: unknown, path = '$'): string[] {
  if (isObj(expected)) {
    if (!isObj(actual)) return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    if (isFreeForm(path)) return [];
    const a = Object.keys(actual).sort();
    const e = Object.keys(expected).sort();
    const diffs: string[] = [];
    const missing = e.filter((k) => !a.includes(k));
    const extra = a.filter((k) => !e.includes(k));
    if (missing.length) diffs.push(`${path}: missing keys ${missing.join(', ')}`);
    if (extra.length) diffs.push(`${path}: unexpected keys ${extra.join(', ')}`);
    for (const k of e) if (k in actual) diffs.push(...shapeDiff(actual[k], expected[k], `${path}.${k}`));
    return diffs;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    if (expected.length === 0 || actual.length === 0) return [];
    return actual.flatMap((item, i) => shapeDiff(item, expected[i] ?? expected[0], `${path}[${i}]`));
  }
  return [];
}

function expectLike(
  res: { status: number; body: unknown; text: string },
  expectedStatus: number,
  expectedBody?: unknown,
) {
  expect(Math.floor(res.status / 100), `status ${res.status}: ${res.text}`).toBe(
    Math.floor(expectedStatus / 100),
  );
  if (expectedBody !== undefined) expect(shapeDiff(res.body, expectedBody)).toEqual([]);
}

const mvHeader = (service: 'volume' | 'compute', v: string) => ({
  'openstack-api-version': `${service} ${v}`,
});

describe('contract: simulator answers have the shapes of the upstream samples', () => {
  let sim: Simulator;
  let admin: string;
  let demo: string;
  let adminApi: ReturnType<typeof clients>;
  let demoApi: ReturnType<typeof clients>;

  beforeAll(async () => {
    sim = await startTestSim();
    admin = await login(sim, 'admin');
    demo = await login(sim, 'demo');
    adminApi = clients(sim, admin, sim.projects.admin.id);
    demoApi = clients(sim, demo, sim.projects.demo.id);
  });
  afterAll(() => sim?.close());

  it('lists every sample as covered or not covered (with a reason)', () => {
    const files = allSampleFiles();
    expect(files.length).toBeGreaterThan(80);
    const unlisted = files.filter((f) => !COVERED.includes(f) && !(f in NOT_COVERED));
    expect(unlisted).toEqual([]);
    for (const f of [...COVERED, ...Object.keys(NOT_COVERED)]) expect(files).toContain(f);
  });

  describe('keystone', () => {
    const adminUserId = async () => {
      const r = await call('GET', `${sim.urls.keystone}/auth/tokens`, {
        token: admin,
        headers: { 'x-subject-token': admin },
      });
      return r.body.token.user.id as string;
    };

    it('project-id-password → project-scoped-password (201), and validation (200)', async () => {
      const req = sample('keystone/auth/requests/project-id-password.json');
      req.auth.identity.password.user = { id: await adminUserId(), password: 'admin' };
      req.auth.scope.project.id = sim.projects.admin.id;
      const r = await call('POST', `${sim.urls.keystone}/auth/tokens`, { body: req });
      expectLike(r, 201, sample('keystone/auth/responses/project-scoped-password.json'));
      const token = r.headers.get('x-subject-token')!;
      expect(token).toMatch(/^gAAAAA/);
      const v = await call('GET', `${sim.urls.keystone}/auth/tokens`, {
        token: admin,
        headers: { 'x-subject-token': token },
      });
      expectLike(v, 200, sample('keystone/auth/responses/project-scoped-password.json'));
      expect(v.headers.get('x-subject-token')).toBe(token);
    });

    it('project-name-password → a token with a multi-service catalog (admin sample)', async () => {
      const req = sample('keystone/auth/requests/project-name-password.json');
      req.auth.identity.password.user = { id: await adminUserId(), password: 'admin' };
      const r = await call('POST', `${sim.urls.keystone}/auth/tokens`, { body: req });
      expectLike(r, 201, sample('keystone/admin/auth-password-project-scoped-response.json'));
      const types = r.body.token.catalog.map((c: Json) => c.type).sort();
      expect(types).toEqual(['block-storage', 'compute', 'identity', 'image', 'volumev3']);
    });
  });

  describe('cinder', () => {
    let volumeId: string;
    let snapshotId: string;

    it('versions: GET / (300) and GET /v3/ (200)', async () => {
      expectLike(
        await call('GET', `${sim.urls.cinder}/`),
        300,
        sample('cinder/versions/versions-response.json'),
      );
      expectLike(
        await call('GET', `${sim.urls.cinder}/v3/`),
        200,
        sample('cinder/versions/version-show-response.json'),
      );
    });

    it('volume-create-request → volume-create-response (3.0) and v3.69', async () => {
      const req = sample('cinder/volumes/volume-create-request.json');
      req.volume.size = 1;
      const r = await adminApi.cinder('POST', '/volumes', req);
      expectLike(r, 202, sample('cinder/volumes/volume-create-response.json'));
      expect(r.body.volume.status).toBe('creating');
      volumeId = r.body.volume.id;
      const r69 = await adminApi.cinder('POST', '/volumes', req, mvHeader('volume', '3.69'));
      expectLike(r69, 202, sample('cinder/volumes/v3.69/volume-create-response.json'));
      expect(r69.headers.get('openstack-api-version')).toBe('volume 3.69');
      await adminApi.waitVolume(volumeId, 'available');
      await adminApi.waitVolume(r69.body.volume.id, 'available');
    });

    it('volume-show-response (3.0 and 3.69, admin view)', async () => {
      expectLike(
        await adminApi.cinder('GET', `/volumes/${volumeId}`),
        200,
        sample('cinder/volumes/volume-show-response.json'),
      );
      expectLike(
        await adminApi.cinder('GET', `/volumes/${volumeId}`, undefined, mvHeader('volume', '3.69')),
        200,
        sample('cinder/volumes/v3.69/volume-show-response.json'),
      );
    });

    it('volume-update-request → volume-update-response (3.0 and 3.69)', async () => {
      const req = sample('cinder/volumes/volume-update-request.json');
      expectLike(
        await adminApi.cinder('PUT', `/volumes/${volumeId}`, req),
        200,
        sample('cinder/volumes/volume-update-response.json'),
      );
      expectLike(
        await adminApi.cinder('PUT', `/volumes/${volumeId}`, req, mvHeader('volume', '3.69')),
        200,
        sample('cinder/volumes/v3.69/volume-update-response.json'),
      );
    });

    it('volumes-list-response and volumes-list-detailed-response (3.0 and 3.69)', async () => {
      expectLike(
        await adminApi.cinder('GET', '/volumes'),
        200,
        sample('cinder/volumes/volumes-list-response.json'),
      );
      expectLike(
        await adminApi.cinder('GET', '/volumes/detail'),
        200,
        sample('cinder/volumes/volumes-list-detailed-response.json'),
      );
      expectLike(
        await adminApi.cinder('GET', '/volumes/detail', undefined, mvHeader('volume', '3.69')),
        200,
        sample('cinder/volumes/v3.69/volumes-list-detailed-response.json'),
      );
    });

    it('snapshot-create-request → snapshot-create-response (3.0 and 3.65)', async () => {
      const req = sample('cinder/snapshots/snapshot-create-request.json');
      req.snapshot.volume_id = volumeId;
      const r = await adminApi.cinder('POST', '/snapshots', req);
      expectLike(r, 202, sample('cinder/snapshots/snapshot-create-response.json'));
      snapshotId = r.body.snapshot.id;
      const r65 = await adminApi.cinder('POST', '/snapshots', req, mvHeader('volume', '3.65'));
      expectLike(r65, 202, sample('cinder/snapshots/v3.65/snapshot-create-response.json'));
      await waitFor(
        () => adminApi.snapshot(r65.body.snapshot.id),
        (s) => s.status === 'available',
      );
      // The newest snapshot is the one the revert sample below reverts to.
      snapshotId = r65.body.snapshot.id;
    });

    it('snapshot-show-response and the snapshot lists (3.0 and 3.65)', async () => {
      expectLike(
        await adminApi.cinder('GET', `/snapshots/${snapshotId}`),
        200,
        sample('cinder/snapshots/snapshot-show-response.json'),
      );
      expectLike(
        await adminApi.cinder('GET', `/snapshots/${snapshotId}`, undefined, mvHeader('volume', '3.65')),
        200,
        sample('cinder/snapshots/v3.65/snapshot-show-response.json'),
      );
      expectLike(
        await adminApi.cinder('GET', '/snapshots'),
        200,
        sample('cinder/snapshots/snapshots-list-response.json'),
      );
      expectLike(
        await adminApi.cinder('GET', '/snapshots/detail'),
        200,
        sample('cinder/snapshots/snapshots-list-detailed-response.json'),
      );
      expectLike(
        await adminApi.cinder('GET', '/snapshots/detail', undefined, mvHeader('volume', '3.65')),
        200,
        sample('cinder/snapshots/v3.65/snapshots-list-detailed-response.json'),
      );
    });

    it('volume-revert-to-snapshot-request (3.40) → 202', async () => {
      const req = sample('cinder/volume-revert-to-snapshot-request.json');
      req.revert.snapshot_id = snapshotId;
      const r = await adminApi.cinder('POST', `/volumes/${volumeId}/action`, req, mvHeader('volume', '3.40'));
      expectLike(r, 202);
      expect(r.text).toBe('');
      await adminApi.waitVolume(volumeId, 'available');
    });

    it('volume-extend-request and os-extend_volume_completion (3.71) → 202', async () => {
      const req = sample('cinder/volume-extend-request.json');
      expectLike(await adminApi.cinder('POST', `/volumes/${volumeId}/action`, req), 202);
      await adminApi.waitVolume(volumeId, 'available');
      expect((await adminApi.volume(volumeId)).size).toBe(3);
      const completion = sample('cinder/volume-os-extend_volume_completion-request.json');
      expectLike(
        await adminApi.cinder('POST', `/volumes/${volumeId}/action`, completion, mvHeader('volume', '3.71')),
        202,
      );
    });

    it('volume-reserve / unreserve, attach / begin_detaching / roll_detaching / detach → 202', async () => {
      const act = (name: string, body?: Json) =>
        adminApi.cinder('POST', `/volumes/${volumeId}/action`, body ?? sample(`cinder/${name}`));
      expectLike(await act('volume-reserve-request.json'), 202);
      expect((await adminApi.volume(volumeId)).status).toBe('attaching');
      expectLike(await act('volume-unreserve-request.json'), 202);
      expect((await adminApi.volume(volumeId)).status).toBe('available');
      expectLike(await act('volume-attach-request.json'), 202);
      const attached = await adminApi.volume(volumeId);
      expect(attached.status).toBe('in-use');
      expect(attached.attachments[0].device).toBe('/dev/vdc');
      expectLike(await act('volume-begin-detaching-request.json'), 202);
      expect((await adminApi.volume(volumeId)).status).toBe('detaching');
      expectLike(await act('volume-roll-detaching-request.json'), 202);
      expect((await adminApi.volume(volumeId)).status).toBe('in-use');
      const detach = sample('cinder/volume-detach-request.json');
      detach['os-detach'].attachment_id = attached.attachments[0].attachment_id;
      expectLike(await act('', detach), 202);
      expect((await adminApi.volume(volumeId)).status).toBe('available');
    });

    it('volume-force-detach-request (admin) → 202', async () => {
      await adminApi.cinder(
        'POST',
        `/volumes/${volumeId}/action`,
        sample('cinder/volume-attach-request.json'),
      );
      const attachmentId = (await adminApi.volume(volumeId)).attachments[0].attachment_id;
      const req = sample('cinder/volume-force-detach-request.json');
      req['os-force_detach'].attachment_id = attachmentId;
      expectLike(await adminApi.cinder('POST', `/volumes/${volumeId}/action`, req), 202);
      expect((await adminApi.volume(volumeId)).status).toBe('available');
    });

    it('volume-initialize-connection-request → 200 {connection_info}; terminate → 202', async () => {
      const init = await adminApi.cinder(
        'POST',
        `/volumes/${volumeId}/action`,
        sample('cinder/volume-initialize-connection-request.json'),
      );
      expectLike(init, 200);
      expect(Object.keys(init.body)).toEqual(['connection_info']);
      expect(init.body.connection_info.data.device_path).toBe(`${sim.volumesDir}/volume-${volumeId}`);
      const term = await adminApi.cinder(
        'POST',
        `/volumes/${volumeId}/action`,
        sample('cinder/volume-terminate-connection-request.json'),
      );
      expectLike(term, 202);
    });

    it('attachment-create/show/update/complete (3.54 / 3.44)', async () => {
      const req = sample('cinder/attachment-create-request.json');
      req.attachment.volume_uuid = volumeId;
      const created = await adminApi.cinder('POST', '/attachments', req, mvHeader('volume', '3.54'));
      expectLike(created, 200, sample('cinder/attachment-create-response.json'));
      expect(created.body.attachment.status).toBe('attaching');
      const id = created.body.attachment.id;
      expectLike(
        await adminApi.cinder('GET', `/attachments/${id}`, undefined, mvHeader('volume', '3.54')),
        200,
        sample('cinder/attachment-show-response.json'),
      );
      expectLike(
        await adminApi.cinder(
          'PUT',
          `/attachments/${id}`,
          sample('cinder/attachment-update-request.json'),
          mvHeader('volume', '3.54'),
        ),
        200,
        sample('cinder/attachment-update-response.json'),
      );
      const complete = await adminApi.cinder(
        'POST',
        `/attachments/${id}/action`,
        sample('cinder/attachment-complete.json'),
        mvHeader('volume', '3.54'),
      );
      expectLike(complete, 204);
      expect((await adminApi.volume(volumeId)).status).toBe('in-use');
      const del = await adminApi.cinder(
        'DELETE',
        `/attachments/${id}`,
        undefined,
        mvHeader('volume', '3.54'),
      );
      expect(del.status).toBe(200);
      expect(del.body).toEqual({ attachments: [] });
    });

    it('volume-status-reset-request (admin) → 202', async () => {
      const r = await adminApi.cinder(
        'POST',
        `/volumes/${volumeId}/action`,
        sample('cinder/volume-status-reset-request.json'),
      );
      expectLike(r, 202);
      const v = await adminApi.volume(volumeId);
      expect([v.status, v.migration_status]).toEqual(['available', 'migrating']);
    });
  });

  describe('nova', () => {
    let imageId: string;
    let adminServer: string;
    let demoServers: string[];
    const compute = (v: string) => mvHeader('compute', v);

    /** An image carrying the properties of the 2.100 samples' image. */
    const makeImage = async () => {
      const created = await demoApi.glance('POST', '/v2/images', {
        name: 'props-image',
        disk_format: 'raw',
        container_format: 'bare',
        architecture: 'x86_64',
        auto_disk_config: 'True',
      });
      expect(created.status).toBe(201);
      const put = await call('PUT', `${sim.urls.glance}/v2/images/${created.body.id}/file`, {
        token: demo,
        raw: Buffer.alloc(4096, 1),
      });
      expect(put.status).toBe(204);
      return created.body.id as string;
    };

    /** A server like the samples': metadata, scheduler hints, two attached volumes. */
    const boot = async (api: ReturnType<typeof clients>, name: string) => {
      const r = await api.nova(
        'POST',
        '/servers',
        {
          server: {
            name,
            imageRef: imageId,
            flavorRef: '1',
            metadata: { 'My Server Name': 'Apache1' },
            networks: 'auto',
          },
          'os:scheduler_hints': { same_host: ['48e6a9f6-30af-47e0-bc04-acaed113bb4e'] },
        },
        compute('2.37'),
      );
      expect(r.status, r.text).toBe(202);
      const id = r.body.server.id as string;
      await api.waitServer(id, 'ACTIVE');
      for (const device of ['/dev/sdb', '/dev/sdc']) {
        const vol = await api.createVolume(1);
        const a = await api.nova('POST', `/servers/${id}/os-volume_attachments`, {
          volumeAttachment: { volumeId: vol, device },
        });
        expect(a.status).toBe(200);
        await api.waitVolume(vol, 'in-use');
      }
      return id;
    };

    beforeAll(async () => {
      imageId = await makeImage();
      adminServer = await boot(adminApi, 'new-server-test');
      demoServers = [await boot(demoApi, 'new-server-test'), await boot(demoApi, 'new-server-test')];
      await demoApi.nova(
        'PUT',
        `/servers/${demoServers[0]!}`,
        { server: { description: 'desc' } },
        compute('2.19'),
      );
    });

    it('versions: GET / and GET /v2.1/', async () => {
      expectLike(
        await call('GET', `${sim.urls.nova.replace(/\/v2\.1$/, '')}/`),
        200,
        sample('nova/versions/versions-get-resp.json'),
      );
      expectLike(
        await call('GET', `${sim.urls.nova}/`),
        200,
        sample('nova/versions/v21-version-get-resp.json'),
      );
    });

    it('flavor-get-resp (2.1) and v2.102', async () => {
      expectLike(await demoApi.nova('GET', '/flavors/1'), 200, sample('nova/flavors/flavor-get-resp.json'));
      expectLike(
        await demoApi.nova('GET', '/flavors/2', undefined, compute('2.102')),
        200,
        sample('nova/flavors/v2.102/flavor-get-resp.json'),
      );
    });

    it('server-get-resp (2.1, admin) and v2.100 (owner)', async () => {
      const r = await adminApi.nova('GET', `/servers/${adminServer}`);
      expectLike(r, 200, sample('nova/servers/server-get-resp.json'));
      expect(r.headers.get('x-compute-request-id')).toMatch(/^req-/);
      expect(r.headers.get('x-openstack-request-id')).toBe(r.headers.get('x-compute-request-id'));
      const r100 = await demoApi.nova('GET', `/servers/${demoServers[0]!}`, undefined, compute('2.100'));
      expectLike(r100, 200, sample('nova/servers/v2.100/server-get-resp.json'));
      expect(r100.headers.get('openstack-api-version')).toBe('compute 2.100');
      expect(r100.headers.get('x-openstack-nova-api-version')).toBe('2.100');
    });

    it('servers-details-resp (2.1, admin) and v2.100 (owner), with servers_links', async () => {
      const r = await adminApi.nova('GET', '/servers/detail?limit=1&all_tenants=1');
      expectLike(r, 200, sample('nova/servers/servers-details-resp.json'));
      const r100 = await demoApi.nova('GET', '/servers/detail?limit=1', undefined, compute('2.100'));
      expectLike(r100, 200, sample('nova/servers/v2.100/servers-details-resp.json'));
    });

    it('os-volume_attachments list / detail (2.1 and 2.101)', async () => {
      const id = demoServers[0]!;
      const list = await demoApi.nova('GET', `/servers/${id}/os-volume_attachments`);
      expectLike(list, 200, sample('nova/os-volume_attachments/list-volume-attachments-resp.json'));
      const list101 = await demoApi.nova(
        'GET',
        `/servers/${id}/os-volume_attachments`,
        undefined,
        compute('2.101'),
      );
      expectLike(list101, 200, sample('nova/os-volume_attachments/v2.101/list-volume-attachments-resp.json'));
      const volumeId = list.body.volumeAttachments[0].volumeId;
      expectLike(
        await demoApi.nova('GET', `/servers/${id}/os-volume_attachments/${volumeId}`),
        200,
        sample('nova/os-volume_attachments/volume-attachment-detail-resp.json'),
      );
      expectLike(
        await demoApi.nova(
          'GET',
          `/servers/${id}/os-volume_attachments/${volumeId}`,
          undefined,
          compute('2.101'),
        ),
        200,
        sample('nova/os-volume_attachments/v2.101/volume-attachment-detail-resp.json'),
      );
    });

    it('attach-volume-to-server (2.1 → 200, 2.79 → 200 with tag, 2.101 → 202 without body)', async () => {
      const id = demoServers[1]!;
      const attach = async (file: string, mv: string) => {
        const req = sample(file);
        req.volumeAttachment.volumeId = await demoApi.createVolume(1);
        if (mv === '2.1') req.volumeAttachment.device = '/dev/sdd';
        return demoApi.nova('POST', `/servers/${id}/os-volume_attachments`, req, compute(mv));
      };
      expectLike(
        await attach('nova/os-volume_attachments/attach-volume-to-server-req.json', '2.1'),
        200,
        sample('nova/os-volume_attachments/attach-volume-to-server-resp.json'),
      );
      expectLike(
        await attach('nova/os-volume_attachments/v2.79/attach-volume-to-server-req.json', '2.79'),
        200,
        sample('nova/os-volume_attachments/v2.79/attach-volume-to-server-resp.json'),
      );
      const r101 = await attach(
        'nova/os-volume_attachments/v2.101/attach-volume-to-server-req.json',
        '2.101',
      );
      expectLike(r101, 202);
      expect(r101.text).toBe('');
    });

    it('os-stop / os-start, pause / unpause, suspend / resume → 202 with asynchronous effect', async () => {
      const id = demoServers[1]!;
      const steps: Array<[string, string]> = [
        ['nova/servers/server-action-stop.json', 'SHUTOFF'],
        ['nova/servers/server-action-start.json', 'ACTIVE'],
        ['nova/os-pause-server/pause-server.json', 'PAUSED'],
        ['nova/os-pause-server/unpause-server.json', 'ACTIVE'],
        ['nova/os-suspend-server/server-suspend.json', 'SUSPENDED'],
        ['nova/os-suspend-server/server-resume.json', 'ACTIVE'],
      ];
      for (const [file, status] of steps) {
        const r = await demoApi.nova('POST', `/servers/${id}/action`, sample(file));
        expectLike(r, 202);
        expect(r.text).toBe('');
        await demoApi.waitServer(id, status);
      }
    });

    it('createImage: Location before 2.45, {"image_id"} from 2.45', async () => {
      const id = demoServers[1]!;
      const r = await demoApi.nova(
        'POST',
        `/servers/${id}/action`,
        sample('nova/servers/server-action-create-image.json'),
      );
      expectLike(r, 202);
      expect(r.headers.get('location')).toMatch(/\/images\/[0-9a-f-]{36}$/);
      await demoApi.waitServer(id, 'ACTIVE');
      const r45 = await demoApi.nova(
        'POST',
        `/servers/${id}/action`,
        sample('nova/servers/v2.45/server-action-create-image.json'),
        compute('2.45'),
      );
      expectLike(r45, 202, sample('nova/servers/v2.45/server-action-create-image-resp.json'));
      expect(r45.headers.get('location')).toBeNull();
      await demoApi.waitServer(id, 'ACTIVE');
    });

    it('createBackup: Location before 2.45, {"image_id"} from 2.45', async () => {
      const id = demoServers[1]!;
      const r = await demoApi.nova(
        'POST',
        `/servers/${id}/action`,
        sample('nova/os-create-backup/create-backup-req.json'),
      );
      expectLike(r, 202);
      expect(r.headers.get('location')).toMatch(/\/images\//);
      await demoApi.waitServer(id, 'ACTIVE');
      const r45 = await demoApi.nova(
        'POST',
        `/servers/${id}/action`,
        sample('nova/os-create-backup/v2.45/create-backup-req.json'),
        compute('2.45'),
      );
      expectLike(r45, 202, sample('nova/os-create-backup/v2.45/create-backup-resp.json'));
      await demoApi.waitServer(id, 'ACTIVE');
    });
  });

  describe('glance', () => {
    it('image-versions-response: GET /versions (200) and GET / (300)', async () => {
      expectLike(
        await call('GET', `${sim.urls.glance}/versions`),
        200,
        sample('glance/image-versions-response.json'),
      );
      expectLike(
        await call('GET', `${sim.urls.glance}/`),
        300,
        sample('glance/image-versions-response.json'),
      );
    });

    it('image-create-request → image-create-response (201, Location), then show and list', async () => {
      const req = sample('glance/image-create-request.json');
      const created = await call('POST', `${sim.urls.glance}/v2/images`, { token: admin, body: req });
      expectLike(created, 201, sample('glance/image-create-response.json'));
      expect(created.body.id).toBe(req.id);
      expect(created.headers.get('location')).toBe(`${sim.urls.glance}/v2/images/${req.id}`);
      const put = await call('PUT', `${sim.urls.glance}/v2/images/${req.id}/file`, {
        token: admin,
        raw: Buffer.alloc(1000, 2),
      });
      expect(put.status).toBe(204);
      expectLike(
        await call('GET', `${sim.urls.glance}/v2/images/${req.id}`, { token: admin }),
        200,
        sample('glance/image-show-response.json'),
      );
      // A fresh project's view: the public image only (no snapshots with custom properties).
      const altToken = await login(sim, 'alt_demo');
      const list = await call('GET', `${sim.urls.glance}/v2/images`, { token: altToken });
      expectLike(list, 200, sample('glance/images-list-response.json'));
    });
  });
});
