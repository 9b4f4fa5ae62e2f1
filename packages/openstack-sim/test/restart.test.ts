/**
 * Acceptance 5: a simulator restarted on the same state directory keeps volumes, snapshots,
 * servers, images, tokens and their data; transitions left mid-flight finish after the restart.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/index.js';
import { call, clients, dataUrl, login, startTestSim } from './helpers.js';

describe('restart on the same state directory', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('keeps everything, with data, and finishes pending transitions', { timeout: 60_000 }, async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'sim-restart-'));
    dirs.push(stateDir);
    let sim = await startTestSim({ stateDir });
    const projects = sim.projects;
    const token = await login(sim, 'demo');
    let api = clients(sim, token, projects.demo.id);

    const volumeId = await api.createVolume(1, { name: 'keep-me' });
    const data = randomBytes(256 * 1024);
    expect((await call('PUT', `${dataUrl(sim, volumeId)}/data?offset=4096`, { raw: data })).status).toBe(200);
    const snapshotId = await api.createSnapshot(volumeId, { name: 'keep-snap' });
    const volSha = (await call('GET', `${dataUrl(sim, volumeId)}/sha256`)).body.sha256;
    const snapSha = (await call('GET', `${sim.urls.cinder}/_sim/snapshots/${snapshotId}/sha256`)).body.sha256;

    const image = await api.glance('POST', '/v2/images', {
      name: 'keep-image',
      disk_format: 'raw',
      container_format: 'bare',
    });
    const imageBytes = randomBytes(10_000);
    expect(
      (await call('PUT', `${sim.urls.glance}/v2/images/${image.body.id}/file`, { token, raw: imageBytes }))
        .status,
    ).toBe(204);
    const cirros = (await api.glance('GET', '/v2/images?name=cirros-0.6.2-x86_64-disk')).body.images[0].id;
    const server = await api.nova('POST', '/servers', {
      server: { name: 'keep-server', imageRef: cirros, flavorRef: '1' },
    });
    await api.waitServer(server.body.server.id, 'ACTIVE');
    await api.nova('POST', `/servers/${server.body.server.id}/os-volume_attachments`, {
      volumeAttachment: { volumeId },
    });
    await api.waitVolume(volumeId, 'in-use');
    await sim.close();

    // A transition in flight when the simulator stops: a volume still `creating`.
    sim = await startSimulator({ stateDir, transitionDelayMs: 1_000 });
    api = clients(sim, token, projects.demo.id);
    const pending = await api.cinder('POST', '/volumes', { volume: { size: 1, name: 'in-flight' } });
    expect(pending.body.volume.status).toBe('creating');
    await sim.close();

    sim = await startTestSim({ stateDir });
    expect(sim.projects).toEqual(projects);
    api = clients(sim, token, projects.demo.id); // the token survived too
    const v = await api.volume(volumeId);
    expect(v).toMatchObject({ name: 'keep-me', status: 'in-use' });
    expect(v.attachments[0].server_id).toBe(server.body.server.id);
    expect(await api.snapshot(snapshotId)).toMatchObject({ name: 'keep-snap', status: 'available' });
    expect((await call('GET', `${dataUrl(sim, volumeId)}/sha256`)).body.sha256).toBe(volSha);
    expect((await call('GET', `${sim.urls.cinder}/_sim/snapshots/${snapshotId}/sha256`)).body.sha256).toBe(
      snapSha,
    );
    const s = await api.server(server.body.server.id);
    expect(s).toMatchObject({ name: 'keep-server', status: 'ACTIVE' });
    expect(s['os-extended-volumes:volumes_attached']).toEqual([{ id: volumeId }]);
    const img = await api.glance('GET', `/v2/images/${image.body.id}`);
    expect(img.body).toMatchObject({ name: 'keep-image', status: 'active', size: imageBytes.length });
    const download = await fetch(`${sim.urls.glance}/v2/images/${image.body.id}/file`, {
      headers: { 'x-auth-token': token },
    });
    expect(Buffer.from(await download.arrayBuffer()).equals(imageBytes)).toBe(true);
    await api.waitVolume(pending.body.volume.id, 'available');
    expect(existsSync(join(sim.volumesDir, `volume-${pending.body.volume.id}`))).toBe(true);
    await sim.close();
  });

  it('refuses a second simulator on a state directory in use', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'sim-lock-'));
    dirs.push(stateDir);
    const sim = await startTestSim({ stateDir });
    await expect(startTestSim({ stateDir })).rejects.toThrow(/in use/);
    await sim.close();
  });

  it('a temporary state directory is removed on close', async () => {
    const sim = await startTestSim();
    expect(existsSync(sim.stateDir)).toBe(true);
    await sim.close();
    expect(existsSync(sim.stateDir)).toBe(false);
  });
});
