/**
 * The authorization rules the backup service relies on: tokens (Keystone), owner-or-admin
 * (other projects' ids are 404), reader is read-only (403), admin-only actions, Nova's lock,
 * and microversion negotiation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { call, clients, login, startTestSim } from './helpers.js';

const DELETE_REFUSED =
  'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.';

describe('authorization', () => {
  let sim: Simulator;
  let tokens: Record<'admin' | 'demo' | 'alt' | 'reader' | 'backup', string>;
  let admin: ReturnType<typeof clients>;
  let demo: ReturnType<typeof clients>;
  let alt: ReturnType<typeof clients>;
  let reader: ReturnType<typeof clients>;
  let backup: ReturnType<typeof clients>;
  let cirros: string;

  beforeAll(async () => {
    sim = await startTestSim();
    tokens = {
      admin: await login(sim, 'admin'),
      demo: await login(sim, 'demo'),
      alt: await login(sim, 'alt_demo'),
      reader: await login(sim, 'reader'),
      backup: await login(sim, 'backup'),
    };
    admin = clients(sim, tokens.admin, sim.projects.admin.id);
    demo = clients(sim, tokens.demo, sim.projects.demo.id);
    alt = clients(sim, tokens.alt, sim.projects.alt_demo.id);
    reader = clients(sim, tokens.reader, sim.projects.demo.id);
    backup = clients(sim, tokens.backup, sim.projects.service.id);
    cirros = (await demo.glance('GET', '/v2/images')).body.images[0].id;
  });
  afterAll(() => sim?.close());

  describe('keystone tokens', () => {
    it('rejects a wrong password with 401, the Keystone body and WWW-Authenticate', async () => {
      const r = await call('POST', `${sim.urls.keystone}/auth/tokens`, {
        body: {
          auth: {
            identity: {
              methods: ['password'],
              password: { user: { name: 'demo', domain: { id: 'default' }, password: 'x' } },
            },
          },
        },
      });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({
        error: {
          code: 401,
          title: 'Unauthorized',
          message: 'The request you have made requires authentication.',
        },
      });
      expect(r.headers.get('www-authenticate')).toMatch(/^Keystone uri="http:/);
      expect(r.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
    });

    it('validates tokens: 200 with X-Subject-Token, 401 for a bad caller, 404 for a bad subject, HEAD, nocatalog, DELETE', async () => {
      const url = `${sim.urls.keystone}/auth/tokens`;
      const ok = await call('GET', url, {
        token: tokens.backup,
        headers: { 'x-subject-token': tokens.demo },
      });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-subject-token')).toBe(tokens.demo);
      expect(ok.body.token.project.id).toBe(sim.projects.demo.id);
      expect(ok.body.token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader']);
      const cat = ok.body.token.catalog.find((c: { type: string }) => c.type === 'volumev3');
      expect(cat.endpoints.map((e: { interface: string }) => e.interface).sort()).toEqual([
        'admin',
        'internal',
        'public',
      ]);
      expect(cat.endpoints[0].url).toBe(`${sim.urls.cinder}/v3/${sim.projects.demo.id}`);
      expect(cat.endpoints[0].region).toBe('RegionOne');

      expect(
        (await call('GET', url, { token: 'nope', headers: { 'x-subject-token': tokens.demo } })).status,
      ).toBe(401);
      const missing = await call('GET', url, {
        token: tokens.admin,
        headers: { 'x-subject-token': 'gAAAAAnope' },
      });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe(404);
      const head = await call('HEAD', url, {
        token: tokens.admin,
        headers: { 'x-subject-token': tokens.demo },
      });
      expect([head.status, head.text]).toEqual([200, '']);
      const noCatalog = await call('GET', `${url}?nocatalog`, {
        token: tokens.admin,
        headers: { 'x-subject-token': tokens.demo },
      });
      expect(noCatalog.body.token.catalog).toBeUndefined();
      // A member may validate its own token but not another's.
      expect(
        (await call('GET', url, { token: tokens.alt, headers: { 'x-subject-token': tokens.alt } })).status,
      ).toBe(200);
      expect(
        (await call('GET', url, { token: tokens.alt, headers: { 'x-subject-token': tokens.demo } })).status,
      ).toBe(403);

      const throwaway = await login(sim, 'demo');
      expect(
        (await call('DELETE', url, { token: tokens.admin, headers: { 'x-subject-token': throwaway } }))
          .status,
      ).toBe(204);
      expect(
        (await call('GET', url, { token: tokens.admin, headers: { 'x-subject-token': throwaway } })).status,
      ).toBe(404);
      expect((await clients(sim, throwaway, sim.projects.demo.id).cinder('GET', '/volumes')).status).toBe(
        401,
      );
    });

    it('tokens expire', { timeout: 20_000 }, async () => {
      const short = await startTestSim({ tokenTtlSeconds: 1 });
      try {
        const t = await login(short, 'demo');
        const api = clients(short, t, short.projects.demo.id);
        expect((await api.cinder('GET', '/volumes')).status).toBe(200);
        await new Promise((r) => setTimeout(r, 1_100));
        expect((await api.cinder('GET', '/volumes')).status).toBe(401);
        const v = await call('GET', `${short.urls.keystone}/auth/tokens`, {
          token: await login(short, 'admin'),
          headers: { 'x-subject-token': t },
        });
        expect(v.status).toBe(404);
      } finally {
        await short.close();
      }
    });
  });

  describe('every Cinder/Nova/Glance request needs a valid token', () => {
    it('401 with the keystonemiddleware body without or with a bad token', async () => {
      for (const url of [
        `${sim.urls.cinder}/v3/${sim.projects.demo.id}/volumes`,
        `${sim.urls.nova}/servers`,
        `${sim.urls.glance}/v2/images`,
      ]) {
        for (const token of [undefined, 'gAAAAAbogus']) {
          const r = await call('GET', url, { token });
          expect(r.status, url).toBe(401);
          expect(r.body.error.code).toBe(401);
          expect(r.headers.get('www-authenticate')).toContain('Keystone uri=');
        }
      }
    });

    it("a URL naming another project than the token's is a malformed URL (400)", async () => {
      const r = await call('GET', `${sim.urls.cinder}/v3/${sim.projects.alt_demo.id}/volumes`, {
        token: tokens.demo,
      });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ badRequest: { code: 400, message: 'Malformed request url' } });
      const n = await call('GET', `${sim.urls.nova}/${sim.projects.alt_demo.id}/servers`, {
        token: tokens.demo,
      });
      expect(n.status).toBe(400);
      expect(
        (await call('GET', `${sim.urls.nova}/${sim.projects.demo.id}/servers`, { token: tokens.demo }))
          .status,
      ).toBe(200);
    });
  });

  describe('owner or admin; other projects get 404', () => {
    let volumeId: string;

    beforeAll(async () => {
      volumeId = await demo.createVolume(1, { name: 'demo-vol' });
    });

    it('another project gets itemNotFound for the volume; admin sees and acts on it by id', async () => {
      const r = await alt.cinder('GET', `/volumes/${volumeId}`);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({
        itemNotFound: { code: 404, message: `Volume ${volumeId} could not be found.` },
      });
      expect(r.headers.get('x-compute-request-id')).toBe(r.headers.get('x-openstack-request-id'));
      expect((await alt.cinder('DELETE', `/volumes/${volumeId}`)).status).toBe(404);
      expect((await alt.cinder('POST', '/snapshots', { snapshot: { volume_id: volumeId } })).status).toBe(
        404,
      );
      const shown = await admin.cinder('GET', `/volumes/${volumeId}`);
      expect(shown.status).toBe(200);
      expect(shown.body.volume['os-vol-tenant-attr:tenant_id']).toBe(sim.projects.demo.id);
      expect(
        (await admin.cinder('PUT', `/volumes/${volumeId}`, { volume: { description: 'by admin' } })).status,
      ).toBe(200);
    });

    it('lists show the URL project only, unless an admin asks all_tenants=1', async () => {
      const ids = async (api: ReturnType<typeof clients>, q = '') =>
        (await api.cinder('GET', `/volumes${q}`)).body.volumes.map((v: { id: string }) => v.id);
      expect(await ids(demo)).toContain(volumeId);
      expect(await ids(admin)).not.toContain(volumeId);
      expect(await ids(admin, '?all_tenants=1')).toContain(volumeId);
      expect(await ids(alt, '?all_tenants=1')).not.toContain(volumeId);
    });

    it("an admin's snapshot of a demo volume belongs to the admin's project and blocks the volume's deletion", async () => {
      const r = await backup.cinder('POST', '/snapshots', {
        snapshot: { volume_id: volumeId, name: 'by-backup' },
      });
      expect(r.status).toBe(202);
      const snapId = r.body.snapshot.id;
      const shown = await backup.cinder('GET', `/snapshots/${snapId}`);
      expect(shown.body.snapshot['os-extended-snapshot-attributes:project_id']).toBe(sim.projects.service.id);
      expect((await demo.cinder('GET', `/snapshots/${snapId}`)).status).toBe(404);
      await backup.waitVolume(volumeId, 'available');
      await new Promise((res) => setTimeout(res, 100));
      const del = await demo.cinder('DELETE', `/volumes/${volumeId}`);
      expect(del.status).toBe(400);
      expect(del.body).toEqual({ badRequest: { code: 400, message: DELETE_REFUSED } });
      expect((await backup.cinder('DELETE', `/snapshots/${snapId}`)).status).toBe(202);
    });

    it('servers: other projects get 404 "Instance … could not be found."; admin sees any', async () => {
      const s = await demo.nova('POST', '/servers', {
        server: { name: 'mine', imageRef: cirros, flavorRef: '1' },
      });
      const id = s.body.server.id;
      const r = await alt.nova('GET', `/servers/${id}`);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ itemNotFound: { code: 404, message: `Instance ${id} could not be found.` } });
      expect(r.headers.get('x-compute-request-id')).toMatch(/^req-/);
      expect((await admin.nova('GET', `/servers/${id}`)).status).toBe(200);
      const list = await admin.nova('GET', '/servers?all_tenants=1');
      expect(list.body.servers.map((x: { id: string }) => x.id)).toContain(id);
      expect(
        (await admin.nova('GET', '/servers')).body.servers.map((x: { id: string }) => x.id),
      ).not.toContain(id);
    });

    it('images: private images of other projects are 404 (Glance body follows Accept)', async () => {
      const img = await demo.glance('POST', '/v2/images', {
        name: 'private',
        disk_format: 'raw',
        container_format: 'bare',
      });
      const json = await alt.glance('GET', `/v2/images/${img.body.id}`);
      expect(json.status).toBe(404);
      expect(json.body.code).toBe('404 Not Found');
      expect(json.body.message).toContain(`No image found with ID ${img.body.id}`);
      const text = await call('GET', `${sim.urls.glance}/v2/images/${img.body.id}`, {
        token: tokens.alt,
        headers: { accept: '' },
      });
      expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
      expect((await admin.glance('GET', `/v2/images/${img.body.id}`)).status).toBe(200);
      // Deleting: not another project's image (404 private, 403 public); the owner's delete is 204.
      expect((await alt.glance('DELETE', `/v2/images/${img.body.id}`)).status).toBe(404);
      expect((await alt.glance('DELETE', `/v2/images/${cirros}`)).status).toBe(403);
      expect((await demo.glance('DELETE', `/v2/images/${img.body.id}`)).status).toBe(204);
      expect((await demo.glance('GET', `/v2/images/${img.body.id}`)).status).toBe(404);
    });
  });

  describe('reader may only read', () => {
    it('GETs work; writes are 403 in Cinder, Nova and Glance', async () => {
      expect((await reader.cinder('GET', '/volumes/detail')).status).toBe(200);
      const w = await reader.cinder('POST', '/volumes', { volume: { size: 1 } });
      expect(w.status).toBe(403);
      expect(w.body).toEqual({
        forbidden: { code: 403, message: "Policy doesn't allow volume:create to be performed." },
      });
      const vol = await demo.createVolume(1);
      expect((await reader.cinder('GET', `/volumes/${vol}`)).status).toBe(200);
      expect((await reader.cinder('DELETE', `/volumes/${vol}`)).status).toBe(403);
      expect((await reader.cinder('POST', '/snapshots', { snapshot: { volume_id: vol } })).status).toBe(403);
      expect(
        (await reader.cinder('POST', `/volumes/${vol}/action`, { 'os-extend': { new_size: 2 } })).status,
      ).toBe(403);
      expect((await reader.nova('GET', '/servers/detail')).status).toBe(200);
      const n = await reader.nova('POST', '/servers', {
        server: { name: 'x', imageRef: cirros, flavorRef: '1' },
      });
      expect(n.status).toBe(403);
      expect(Object.keys(n.body)).toEqual(['forbidden']);
      expect((await reader.glance('GET', '/v2/images')).status).toBe(200);
      expect((await reader.glance('POST', '/v2/images', { name: 'x' })).status).toBe(403);
    });
  });

  describe('admin-only actions', () => {
    it('os-reset_status: 403 for members; admins may set any Cinder status and attach_status', async () => {
      const vol = await demo.createVolume(1);
      const reset = (api: ReturnType<typeof clients>, body: unknown) =>
        api.cinder('POST', `/volumes/${vol}/action`, { 'os-reset_status': body });
      const denied = await reset(demo, { status: 'error' });
      expect(denied.status).toBe(403);
      expect(denied.body.forbidden.code).toBe(403);
      for (const status of [
        'creating',
        'restoring-backup',
        'backing-up',
        'attaching',
        'detaching',
        'reserved',
        'maintenance',
        'in-use',
        'error',
        'available',
      ]) {
        expect((await reset(admin, { status })).status, status).toBe(202);
        expect((await demo.volume(vol)).status).toBe(status);
      }
      expect((await reset(admin, { attach_status: 'detached' })).status).toBe(202);
      expect((await reset(admin, { status: 'bogus' })).status).toBe(400);
      // Only Cinder itself sets `reverting` (during its revert); os-reset_status refuses it, as Cinder 21.
      const reverting = await reset(admin, { status: 'reverting' });
      expect(reverting.status).toBe(400);
      expect(reverting.body.badRequest.message).toMatch(
        /^Volume status: reverting is invalid, valid statuses are: \('creating', 'available', /,
      );
      expect((await reset(admin, {})).status).toBe(400);

      const snap = await demo.createSnapshot(vol);
      const s = (api: ReturnType<typeof clients>, status: string) =>
        api.cinder('POST', `/snapshots/${snap}/action`, { 'os-reset_status': { status } });
      expect((await s(demo, 'error')).status).toBe(403);
      expect((await s(admin, 'error')).status).toBe(202);
      expect((await demo.snapshot(snap)).status).toBe('error');
    });

    it('os-resetState (Nova): 403 for members, ERROR for admins', async () => {
      const s = await demo.nova('POST', '/servers', {
        server: { name: 'r', imageRef: cirros, flavorRef: '1' },
      });
      const id = s.body.server.id;
      await demo.waitServer(id, 'ACTIVE');
      const denied = await demo.nova('POST', `/servers/${id}/action`, {
        'os-resetState': { state: 'error' },
      });
      expect(denied.status).toBe(403);
      expect(denied.body.forbidden.message).toContain('os_compute_api:os-admin-actions:reset_state');
      expect(
        (await admin.nova('POST', `/servers/${id}/action`, { 'os-resetState': { state: 'error' } })).status,
      ).toBe(202);
      expect((await demo.server(id)).status).toBe('ERROR');
    });
  });

  describe('Nova lock', () => {
    it('a locked server refuses start/stop/pause/delete for its owner (409), not for admins', async () => {
      const s = await demo.nova('POST', '/servers', {
        server: { name: 'locked', imageRef: cirros, flavorRef: '1' },
      });
      const id = s.body.server.id;
      await demo.waitServer(id, 'ACTIVE');
      const lock = await demo.nova(
        'POST',
        `/servers/${id}/action`,
        { lock: { locked_reason: 'rollback' } },
        { 'openstack-api-version': 'compute 2.73' },
      );
      expect(lock.status).toBe(202);
      const shown = await demo.server(id, '2.73');
      expect([shown.locked, shown.locked_reason]).toEqual([true, 'rollback']);
      expect((await demo.server(id, '2.1')).locked).toBeUndefined();
      expect((await demo.server(id, '2.9')).locked).toBe(true);

      const locked = { conflictingRequest: { code: 409, message: `Instance ${id} is locked` } };
      for (const action of [{ 'os-stop': null }, { pause: null }, { suspend: null }]) {
        const r = await demo.nova('POST', `/servers/${id}/action`, action);
        expect(r.status).toBe(409);
        expect(r.body).toEqual(locked);
      }
      expect((await demo.nova('DELETE', `/servers/${id}`)).body).toEqual(locked);
      expect((await admin.nova('POST', `/servers/${id}/action`, { 'os-stop': null })).status).toBe(202);
      await demo.waitServer(id, 'SHUTOFF');
      expect((await demo.nova('POST', `/servers/${id}/action`, { 'os-start': null })).status).toBe(409);
      // locked_reason needs 2.73
      expect(
        (await demo.nova('POST', `/servers/${id}/action`, { lock: { locked_reason: 'x' } })).status,
      ).toBe(400);
      expect((await demo.nova('POST', `/servers/${id}/action`, { unlock: null })).status).toBe(202);
      expect((await demo.nova('POST', `/servers/${id}/action`, { 'os-start': null })).status).toBe(202);
      await demo.waitServer(id, 'ACTIVE');

      // Locked by an admin: the owner may not unlock.
      expect((await admin.nova('POST', `/servers/${id}/action`, { lock: null })).status).toBe(202);
      expect((await demo.nova('POST', `/servers/${id}/action`, { unlock: null })).status).toBe(403);
      expect((await admin.nova('POST', `/servers/${id}/action`, { unlock: null })).status).toBe(202);
    });

    it("wrong-state actions are 409 with Nova's message", async () => {
      const s = await demo.nova('POST', '/servers', {
        server: { name: 'st', imageRef: cirros, flavorRef: '1' },
      });
      const id = s.body.server.id;
      await demo.waitServer(id, 'ACTIVE');
      const r = await demo.nova('POST', `/servers/${id}/action`, { 'os-start': null });
      expect(r.status).toBe(409);
      expect(r.body.conflictingRequest.message).toBe(
        `Cannot 'start' instance ${id} while it is in vm_state active`,
      );
      expect((await demo.nova('POST', `/servers/${id}/action`, { unpause: null })).status).toBe(409);
    });
  });

  describe('microversions', () => {
    it('Cinder: no header = 3.0, echoed; malformed → 400; out of range → 406 computeFault', async () => {
      const r = await demo.cinder('GET', '/volumes');
      expect(r.headers.get('openstack-api-version')).toBe('volume 3.0');
      expect(r.headers.get('vary')).toBe('OpenStack-API-Version');
      expect(
        (
          await demo.cinder('GET', '/volumes', undefined, { 'openstack-api-version': 'volume latest' })
        ).headers.get('openstack-api-version'),
      ).toBe('volume 3.71');
      expect(
        (await demo.cinder('GET', '/volumes', undefined, { 'openstack-api-version': 'volume 3.x' })).status,
      ).toBe(400);
      const bad = await demo.cinder('GET', '/volumes', undefined, { 'openstack-api-version': 'volume 3.99' });
      expect(bad.status).toBe(406);
      expect(Object.keys(bad.body)).toEqual(['computeFault']);
      // Without a project in the URL only from 3.67.
      const bare = (mv: string) =>
        call('GET', `${sim.urls.cinder}/v3/volumes`, {
          token: tokens.demo,
          headers: { 'openstack-api-version': `volume ${mv}` },
        });
      expect((await bare('3.0')).status).toBe(404);
      expect((await bare('3.67')).status).toBe(200);
      // attachments need 3.27, mode needs 3.54
      const vol = await demo.createVolume(1);
      const att = (mv: string, extra = {}) =>
        demo.cinder(
          'POST',
          '/attachments',
          { attachment: { volume_uuid: vol, ...extra } },
          { 'openstack-api-version': `volume ${mv}` },
        );
      expect((await att('3.0')).status).toBe(404);
      expect((await att('3.44', { mode: 'rw' })).status).toBe(400);
      const ok = await att('3.54', { mode: 'rw' });
      expect(ok.status).toBe(200);
      expect(ok.body.attachment.status).toBe('reserved');
      expect((await demo.volume(vol)).status).toBe('reserved');
    });

    it('Nova: both headers answered; networks "none" needs 2.37, which also requires networks', async () => {
      const legacy = await demo.nova('GET', '/servers', undefined, {
        'x-openstack-nova-api-version': '2.20',
      });
      expect(legacy.headers.get('openstack-api-version')).toBe('compute 2.20');
      expect(legacy.headers.get('x-openstack-nova-api-version')).toBe('2.20');
      const both = await demo.nova('GET', '/servers', undefined, {
        'x-openstack-nova-api-version': '2.20',
        'openstack-api-version': 'compute 2.60',
      });
      expect(both.headers.get('x-openstack-nova-api-version')).toBe('2.60');
      expect(
        (await demo.nova('GET', '/servers', undefined, { 'openstack-api-version': 'compute 2.200' })).status,
      ).toBe(406);
      const body = (networks?: unknown) => ({
        server: {
          name: 'n',
          imageRef: cirros,
          flavorRef: '1',
          ...(networks !== undefined ? { networks } : {}),
        },
      });
      expect((await demo.nova('POST', '/servers', body('none'))).status).toBe(400);
      expect(
        (await demo.nova('POST', '/servers', body(), { 'openstack-api-version': 'compute 2.37' })).status,
      ).toBe(400);
      const none = await demo.nova('POST', '/servers', body('none'), {
        'openstack-api-version': 'compute 2.37',
      });
      expect(none.status).toBe(202);
      const s = await demo.waitServer(none.body.server.id, 'ACTIVE');
      expect(s.at(-1).addresses).toEqual({});
      const auto = await demo.nova('POST', '/servers', body());
      expect(auto.status).toBe(202);
      expect((await demo.waitServer(auto.body.server.id, 'ACTIVE')).at(-1).addresses.private[0].version).toBe(
        4,
      );
    });
  });
});
