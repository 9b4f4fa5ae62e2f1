/**
 * Acceptance 4: status transitions are asynchronous and observable by polling; injected faults are
 * observable by a client and can be switched off again (programmatic handle and `/_sim/faults`).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { call, clients, dataUrl, login, startTestSim, waitFor } from './helpers.js';

describe('asynchronous transitions', () => {
  let sim: Simulator;
  let api: ReturnType<typeof clients>;

  beforeAll(async () => {
    sim = await startTestSim({ transitionDelayMs: 400 });
    api = clients(sim, await login(sim, 'demo'), sim.projects.demo.id);
  });
  afterAll(() => sim?.close());

  it('a poll sees creating before available, and deleting before the volume is gone', async () => {
    const r = await api.cinder('POST', '/volumes', { volume: { size: 1, name: 'async' } });
    expect(r.status).toBe(202);
    expect(r.body.volume.status).toBe('creating');
    const seen = await api.waitVolume(r.body.volume.id, 'available');
    expect(seen[0]).toBe('creating');
    expect(seen.at(-1)).toBe('available');

    expect((await api.cinder('DELETE', `/volumes/${r.body.volume.id}`)).status).toBe(202);
    const statuses = await waitFor(
      async () => {
        const v = await api.cinder('GET', `/volumes/${r.body.volume.id}`);
        return v.status === 404 ? 'gone' : v.body.volume.status;
      },
      (s) => s === 'gone',
    );
    expect(statuses[0]).toBe('deleting');
  });

  it('snapshots go creating → available; servers BUILD → ACTIVE, then powering-off → SHUTOFF', async () => {
    const vol = await api.createVolume(1);
    const s = await api.cinder('POST', '/snapshots', { snapshot: { volume_id: vol } });
    const snapStatuses = await waitFor(
      async () => (await api.snapshot(s.body.snapshot.id)).status,
      (x) => x === 'available',
    );
    expect(snapStatuses[0]).toBe('creating');

    const image = (await api.glance('GET', '/v2/images')).body.images[0].id;
    const created = await api.nova('POST', '/servers', {
      server: { name: 'a', imageRef: image, flavorRef: '1' },
    });
    const boot = await api.waitServer(created.body.server.id, 'ACTIVE');
    expect(boot[0].status).toBe('BUILD');
    expect(boot.at(-1)['OS-EXT-STS:power_state']).toBe(1);

    expect(
      (await api.nova('POST', `/servers/${created.body.server.id}/action`, { 'os-stop': null })).status,
    ).toBe(202);
    const stop = await api.waitServer(created.body.server.id, 'SHUTOFF');
    expect(stop[0]['OS-EXT-STS:task_state']).toBe('powering-off');
    expect(stop[0].status).toBe('ACTIVE');
    expect(stop.at(-1)['OS-EXT-STS:power_state']).toBe(4);
  });
});

describe('fault injection', () => {
  let sim: Simulator;
  let admin: string;
  let demo: string;
  let api: ReturnType<typeof clients>;

  beforeAll(async () => {
    sim = await startTestSim();
    admin = await login(sim, 'admin');
    demo = await login(sim, 'demo');
    api = clients(sim, demo, sim.projects.demo.id);
  });
  afterAll(() => sim?.close());

  it('latency delays answers until cleared', async () => {
    await sim.faults.set('cinder', { latencyMs: 300 });
    let t = Date.now();
    expect((await api.cinder('GET', '/volumes')).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    await sim.faults.clear('cinder');
    t = Date.now();
    await api.cinder('GET', '/volumes');
    expect(Date.now() - t).toBeLessThan(250);
  });

  it('errorRate answers 5xx with the service error body; /_sim/* is never faulted', async () => {
    const vol = await api.createVolume(1);
    await sim.faults.set('cinder', { errorRate: 1 });
    const r = await api.cinder('GET', '/volumes');
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ serviceUnavailable: { code: 503, message: expect.any(String) } });
    expect(r.headers.get('x-openstack-request-id')).toMatch(/^req-/);
    expect(
      (await call('PUT', `${dataUrl(sim, vol)}/data?offset=0`, { raw: Buffer.alloc(10, 1) })).status,
    ).toBe(200);

    await sim.faults.set('nova', { errorRate: 1, errorStatus: 500 });
    const n = await api.nova('GET', '/servers');
    expect(n.status).toBe(500);
    expect(Object.keys(n.body)).toEqual(['computeFault']);

    await sim.faults.set('glance', { errorRate: 1 });
    const g = await api.glance('GET', '/v2/images');
    expect(g.status).toBe(503);
    expect(g.body).toEqual({
      message: expect.any(String),
      code: '503 Service Unavailable',
      title: 'Service Unavailable',
    });

    await sim.faults.clear();
    expect((await api.cinder('GET', '/volumes')).status).toBe(200);
    expect((await api.nova('GET', '/servers')).status).toBe(200);
  });

  it('a partial errorRate fails some requests and not others', async () => {
    await sim.faults.set('cinder', { errorRate: 0.5 });
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) statuses.add((await api.cinder('GET', '/volumes')).status);
    expect([...statuses].sort()).toEqual([200, 503]);
    await sim.faults.clear('cinder');
  });

  it('dropRate destroys the connection without an answer', async () => {
    await sim.faults.set('glance', { dropRate: 1 });
    await expect(
      fetch(`${sim.urls.glance}/v2/images`, { headers: { 'x-auth-token': demo } }),
    ).rejects.toThrow();
    await sim.faults.clear('glance');
    expect((await api.glance('GET', '/v2/images')).status).toBe(200);
  });

  it('down refuses connections until cleared', async () => {
    await sim.faults.set('nova', { down: true });
    // A new TCP connection is refused (pooled keep-alive ones were closed too).
    const { port } = new URL(sim.urls.nova);
    const code = await new Promise<string>((resolve) => {
      const sock = connect(Number(port), '127.0.0.1');
      sock.on('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(code).toBe('ECONNREFUSED');
    await expect(fetch(`${sim.urls.nova}/servers`)).rejects.toThrow();
    await sim.faults.clear('nova');
    expect((await api.nova('GET', '/servers')).status).toBe(200);
  });

  it('/_sim/faults: admin only; GET shows, PUT sets, DELETE clears; a down service comes back through another port', async () => {
    const endpoint = `${sim.urls.glance}/_sim/faults`;
    expect((await call('GET', endpoint)).status).toBe(401);
    expect(
      (await call('PUT', endpoint, { token: demo, body: { service: 'cinder', errorRate: 1 } })).status,
    ).toBe(403);
    expect(
      (await call('PUT', endpoint, { token: admin, body: { service: 'cinder', bogus: 1 } })).status,
    ).toBe(400);

    const set = await call('PUT', endpoint, { token: admin, body: { service: 'cinder', errorRate: 1 } });
    expect(set.status).toBe(200);
    expect(set.body.faults.cinder).toEqual({ errorRate: 1 });
    expect((await api.cinder('GET', '/volumes')).status).toBe(503);
    // The faulted service's own /_sim/faults still answers.
    const shown = await call('GET', `${sim.urls.cinder}/_sim/faults`, { token: admin });
    expect(shown.body.faults.cinder.errorRate).toBe(1);

    expect(
      (await call('POST', endpoint, { token: admin, body: { service: 'cinder', down: true } })).status,
    ).toBe(200);
    await expect(fetch(`${sim.urls.cinder}/v3`)).rejects.toThrow();
    const cleared = await call('DELETE', `${endpoint}?service=cinder`, { token: admin });
    expect(cleared.body.faults.cinder).toEqual({});
    expect((await api.cinder('GET', '/volumes')).status).toBe(200);
  });
});
