/**
 * Acceptance 2: the real python3-openstackclient (Debian package), pointed at the simulator's
 * Keystone, runs token issue, volume create/list/show/delete, volume snapshot create/list/delete,
 * server list and image list. CI must install it: `apt-get install -y python3-openstackclient`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { clients, type Json, login, startTestSim, waitFor } from './helpers.js';

const run = promisify(execFile);

async function openstackBinary(): Promise<string> {
  try {
    const { stdout } = await run('sh', ['-c', 'command -v openstack']);
    return stdout.trim();
  } catch {
    throw new Error(
      'The `openstack` CLI is not installed; this test needs it. Install it with: apt-get install -y python3-openstackclient',
    );
  }
}

describe('python3-openstackclient against the simulator', () => {
  let sim: Simulator;
  let bin: string;
  let serverId: string;

  /** Runs `openstack <args>` as demo/demo on project demo, with the auth given as options. */
  const os = async (...args: string[]): Promise<Json> => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
    const auth = [
      `--os-auth-url=${sim.urls.keystone}`,
      '--os-identity-api-version=3',
      '--os-username=demo',
      '--os-password=demo',
      '--os-project-name=demo',
      '--os-user-domain-name=Default',
      '--os-project-domain-name=Default',
      '--os-interface=public',
    ];
    const { stdout } = await run(bin, [...auth, ...args], { env, timeout: 60_000 });
    return args.includes('json') ? JSON.parse(stdout || 'null') : stdout;
  };

  beforeAll(async () => {
    bin = await openstackBinary();
    sim = await startTestSim();
    // A server for `server list` to show.
    const token = await login(sim, 'demo');
    const api = clients(sim, token, sim.projects.demo.id);
    const images = await api.glance('GET', '/v2/images');
    const r = await api.nova('POST', '/servers', {
      server: { name: 'cli-server', imageRef: images.body.images[0].id, flavorRef: '1' },
    });
    expect(r.status).toBe(202);
    serverId = r.body.server.id;
    await api.waitServer(serverId, 'ACTIVE');
  });
  afterAll(() => sim?.close());

  it('openstack token issue', { timeout: 60_000 }, async () => {
    const token = await os('token', 'issue', '-f', 'json');
    expect(token.id).toMatch(/^gAAAAA/);
    expect(token.project_id).toBe(sim.projects.demo.id);
  });

  it('openstack volume create / list / show / delete', { timeout: 120_000 }, async () => {
    const created = await os('volume', 'create', '--size', '1', 'cli-vol', '-f', 'json');
    expect(created.name).toBe('cli-vol');
    expect(created.status).toBe('creating');
    await waitFor(
      async () => (await os('volume', 'show', 'cli-vol', '-f', 'json')).status,
      (s) => s === 'available',
      30_000,
    );
    const list = await os('volume', 'list', '-f', 'json');
    expect(list.map((v: Json) => v.Name)).toContain('cli-vol');
    const shown = await os('volume', 'show', created.id, '-f', 'json');
    expect(shown.size).toBe(1);
    await os('volume', 'delete', 'cli-vol');
    await waitFor(
      async () => (await os('volume', 'list', '-f', 'json')).map((v: Json) => v.ID),
      (ids) => !ids.includes(created.id),
      30_000,
    );
  });

  it('openstack volume snapshot create / list / delete', { timeout: 120_000 }, async () => {
    const vol = await os('volume', 'create', '--size', '1', 'snap-src', '-f', 'json');
    await waitFor(
      async () => (await os('volume', 'show', vol.id, '-f', 'json')).status,
      (s) => s === 'available',
      30_000,
    );
    const snap = await os('volume', 'snapshot', 'create', '--volume', 'snap-src', 'cli-snap', '-f', 'json');
    expect(snap.volume_id).toBe(vol.id);
    const listed = await waitFor(
      async () => (await os('volume', 'snapshot', 'list', '-f', 'json')) as Json[],
      (l) => l.some((s) => s.Name === 'cli-snap' && s.Status === 'available'),
      30_000,
    );
    expect(listed.at(-1)!.length).toBe(1);
    await os('volume', 'snapshot', 'delete', 'cli-snap');
    await waitFor(
      async () => (await os('volume', 'snapshot', 'list', '-f', 'json')) as Json[],
      (l) => l.length === 0,
      30_000,
    );
    await os('volume', 'delete', vol.id);
  });

  it('openstack server list', { timeout: 60_000 }, async () => {
    const servers = await os('server', 'list', '-f', 'json');
    expect(servers).toEqual([
      expect.objectContaining({ ID: serverId, Name: 'cli-server', Status: 'ACTIVE' }),
    ]);
  });

  it('openstack image list', { timeout: 60_000 }, async () => {
    const images = await os('image', 'list', '-f', 'json');
    expect(images.map((i: Json) => i.Name)).toContain('cirros-0.6.2-x86_64-disk');
  });
});
