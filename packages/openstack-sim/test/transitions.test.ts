/** The test control over asynchronous transitions: a server held in BUILD, then let go. */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { clients, login, startTestSim } from './helpers.js';

describe('sim.transitions', () => {
  let sim: Simulator;
  let demo: ReturnType<typeof clients>;

  beforeAll(async () => {
    sim = await startTestSim();
    demo = clients(sim, await login(sim, 'demo'), sim.projects.demo.id);
  });
  afterAll(() => sim?.close());

  it('hold("server.build") keeps a new server in BUILD (and Nova refuses createImage) until released', async () => {
    const images = (await demo.glance('GET', '/v2/images')).body.images;
    sim.transitions.hold('server.build');
    let id: string;
    try {
      const created = await demo.nova('POST', '/servers', {
        server: { name: 'slow', flavorRef: '1', imageRef: images[0].id },
      });
      expect(created.status).toBe(202);
      id = created.body.server.id;
      await sleep(300); // ten transition delays
      const server = (await demo.nova('GET', `/servers/${id}`)).body.server;
      expect(server.status).toBe('BUILD');
      const image = await demo.nova(
        'POST',
        `/servers/${id}/action`,
        { createImage: { name: 'x' } },
        { 'openstack-api-version': 'compute 2.45' },
      );
      expect(image.status).toBe(409);
      expect(image.body.conflictingRequest.message).toMatch(/vm_state building/);
    } finally {
      sim.transitions.release('server.build');
    }
    await demo.waitServer(id, 'ACTIVE');
    expect((await demo.nova('GET', `/servers/${id}`)).body.server.status).toBe('ACTIVE');
  });
});
