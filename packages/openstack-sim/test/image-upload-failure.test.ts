/** createImage of an image-backed server whose upload fails: the image is `killed`, as in Glance. */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { clients, login, startTestSim, waitFor } from './helpers.js';

describe('a failed image upload', () => {
  let sim: Simulator;
  let demo: ReturnType<typeof clients>;

  beforeAll(async () => {
    sim = await startTestSim();
    demo = clients(sim, await login(sim, 'demo'), sim.projects.demo.id);
  });
  afterAll(() => sim?.close());

  it('leaves the image killed and the server usable (no crash of the simulator)', async () => {
    const images = (await demo.glance('GET', '/v2/images')).body.images;
    const created = await demo.nova('POST', '/servers', {
      server: { name: 'lost-disk', flavorRef: '1', imageRef: images[0].id },
    });
    const id = created.body.server.id;
    await demo.waitServer(id, 'ACTIVE');
    await rm(path.join(sim.stateDir, 'instances', id, 'disk'));
    const snapshot = await demo.nova(
      'POST',
      `/servers/${id}/action`,
      { createImage: { name: 'snap' } },
      { 'openstack-api-version': 'compute 2.45' },
    );
    expect(snapshot.status).toBe(202);
    const imageId = snapshot.body.image_id;
    await waitFor(
      async () => (await demo.glance('GET', `/v2/images/${imageId}`)).body,
      (image) => image?.status === 'killed',
    );
    await demo.waitServer(id, 'ACTIVE');
    const server = (await demo.nova('GET', `/servers/${id}`)).body.server;
    expect(server['OS-EXT-STS:task_state']).toBeNull();
    expect((await demo.glance('GET', `/v2/images/${imageId}`)).body.status).toBe('killed');
  });
});
