/**
 * Acceptance 3 and the `file` layout (docs/file-volume-layout.md): data written through the data
 * API lands in sparse `volume-<id>` files; a snapshot is a point-in-time sparse copy; the
 * `.changes.json` sidecars follow the change-tracking rules; sha256 answers match what was written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { call, clients, dataUrl, login, startTestSim } from './helpers.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** sha256 of a `size`-byte image that is zero except for `writes`, computed independently of the simulator. */
function expectedSha(size: number, writes: Array<[number, Buffer]>): string {
  const image = new Map<number, Buffer>(); // 4 MiB pages that hold data
  const page = 4 * MiB;
  for (const [off, data] of writes) {
    for (let i = 0; i < data.length; ) {
      const p = Math.floor((off + i) / page);
      const inPage = (off + i) % page;
      const n = Math.min(page - inPage, data.length - i);
      const buf = image.get(p) ?? Buffer.alloc(page);
      data.copy(buf, inPage, i, i + n);
      image.set(p, buf);
      i += n;
    }
  }
  const hash = createHash('sha256');
  const zero = Buffer.alloc(page);
  for (let p = 0; p * page < size; p++)
    hash.update((image.get(p) ?? zero).subarray(0, Math.min(page, size - p * page)));
  return hash.digest('hex');
}

const allocated = (path: string) => statSync(path).blocks * 512;

describe('data API, snapshots and change tracking', () => {
  let sim: Simulator;
  let api: ReturnType<typeof clients>;

  const put = (volumeId: string, offset: number, data: Buffer) =>
    call('PUT', `${dataUrl(sim, volumeId)}/data?offset=${offset}`, { raw: data });
  const sha = async (kind: 'volumes' | 'snapshots', id: string) =>
    (await call('GET', `${sim.urls.cinder}/_sim/${kind}/${id}/sha256`)).body.sha256 as string;
  const changes = (name: string) =>
    JSON.parse(readFileSync(join(sim.volumesDir, `${name}.changes.json`), 'utf8'));

  beforeAll(async () => {
    sim = await startTestSim();
    api = clients(sim, await login(sim, 'demo'), sim.projects.demo.id);
  });
  afterAll(() => sim?.close());

  it('a new volume is a sparse file of exactly size GiB with empty change tracking', async () => {
    const id = await api.createVolume(1);
    const path = join(sim.volumesDir, `volume-${id}`);
    expect(statSync(path).size).toBe(GiB);
    expect(allocated(path)).toBeLessThan(MiB);
    expect(changes(`volume-${id}`)).toEqual({ trackers: {} });
    expect(await sha('volumes', id)).toBe(expectedSha(GiB, []));
  });

  it('acceptance 3: write, snapshot, write again: the snapshot keeps the old data; sha256 answers match', async () => {
    const id = await api.createVolume(1);
    const first = randomBytes(MiB);
    expect((await put(id, MiB, first)).status).toBe(200);
    const before = expectedSha(GiB, [[MiB, first]]);
    expect(await sha('volumes', id)).toBe(before);

    const snapId = await api.createSnapshot(id);
    const second = randomBytes(MiB);
    expect((await put(id, MiB, second)).status).toBe(200);

    // The snapshot file still holds the first data, read straight from the file layout.
    const fh = await open(join(sim.volumesDir, `snapshot-${snapId}`), 'r');
    const buf = Buffer.alloc(MiB);
    await fh.read(buf, 0, MiB, MiB);
    await fh.close();
    expect(buf.equals(first)).toBe(true);
    // And through the data API.
    const read = await fetch(`${sim.urls.cinder}/_sim/snapshots/${snapId}/data?offset=${MiB}&length=${MiB}`);
    expect(Buffer.from(await read.arrayBuffer()).equals(first)).toBe(true);
    const readVol = await fetch(`${dataUrl(sim, id)}/data?offset=${MiB}&length=${MiB}`);
    expect(Buffer.from(await readVol.arrayBuffer()).equals(second)).toBe(true);

    expect(await sha('snapshots', snapId)).toBe(before);
    expect(await sha('volumes', id)).toBe(expectedSha(GiB, [[MiB, second]]));
  });

  it('a snapshot of a 1 GiB volume with 1 MiB written allocates about 1 MiB (holes preserved)', async () => {
    const id = await api.createVolume(1);
    await put(id, 100 * MiB, randomBytes(MiB));
    const snapId = await api.createSnapshot(id);
    const path = join(sim.volumesDir, `snapshot-${snapId}`);
    expect(statSync(path).size).toBe(GiB);
    expect(allocated(path)).toBeGreaterThanOrEqual(MiB);
    expect(allocated(path)).toBeLessThan(2 * MiB);
  });

  it('streams a 512 MiB body with bounded memory, and a 512 MiB snapshot copy is quick', {
    timeout: 120_000,
  }, async () => {
    const id = await api.createVolume(1);
    const chunk = randomBytes(MiB);
    const rss = process.memoryUsage().rss;
    let sent = 0;
    const body = Readable.from(
      (function* () {
        for (; sent < 512; sent++) yield chunk;
      })(),
    );
    const res = await fetch(`${dataUrl(sim, id)}/data?offset=0`, {
      method: 'PUT',
      body: Readable.toWeb(body) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { length: number }).length).toBe(512 * MiB);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * MiB);
    const t0 = Date.now();
    const snapId = await api.createSnapshot(id);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(allocated(join(sim.volumesDir, `snapshot-${snapId}`))).toBeGreaterThanOrEqual(512 * MiB);
    const writes: Array<[number, Buffer]> = [];
    for (let i = 0; i < 512; i++) writes.push([i * MiB, chunk]);
    expect(await sha('snapshots', snapId)).toBe(expectedSha(GiB, writes));
  });

  it('refuses writes past the end (400) and unknown ids (404)', async () => {
    const id = await api.createVolume(1);
    const past = await put(id, GiB - 10, Buffer.alloc(11));
    expect(past.status).toBe(400);
    expect(past.body.badRequest.message).toMatch(/past the end/);
    expect((await put(id, GiB - 10, Buffer.alloc(10))).status).toBe(200);
    expect((await call('GET', `${dataUrl(sim, id)}/data?offset=${GiB - 4}&length=8`)).status).toBe(400);
    expect((await put('00000000-0000-0000-0000-000000000000', 0, Buffer.alloc(1))).status).toBe(404);
    expect((await call('GET', `${sim.urls.cinder}/_sim/snapshots/nope/sha256`)).status).toBe(404);
    expect((await call('GET', `${sim.urls.cinder}/_sim/volumes/nope/sha256`)).status).toBe(404);
  });

  it('change tracking: a tracker per snapshot, frozen into each new snapshot; deletes keep trackers; revert sets "all"', async () => {
    const id = await api.createVolume(1);
    expect(changes(`volume-${id}`)).toEqual({ trackers: {} });
    await put(id, 3 * MiB, Buffer.alloc(4096, 1));

    const s1 = await api.createSnapshot(id);
    expect(changes(`snapshot-${s1}`)).toEqual({ volume_id: id, since: {} });
    expect(changes(`volume-${id}`)).toEqual({ trackers: { [s1]: [] } });

    await put(id, MiB, Buffer.alloc(MiB, 2));
    await put(id, 2 * MiB, Buffer.alloc(MiB, 3)); // touches [MiB, 2 MiB): coalesced
    expect(changes(`volume-${id}`)).toEqual({ trackers: { [s1]: [[MiB, 2 * MiB]] } });

    const s2 = await api.createSnapshot(id);
    expect(changes(`snapshot-${s2}`)).toEqual({ volume_id: id, since: { [s1]: [[MiB, 2 * MiB]] } });

    await put(id, 20 * MiB, Buffer.alloc(200, 5));
    // Deleting s1 (a temporary snapshot, say) keeps its tracker: changes since s1 stay known.
    expect((await api.cinder('DELETE', `/snapshots/${s1}`)).status).toBe(202);
    await waitGone(s1);
    expect(existsSync(join(sim.volumesDir, `snapshot-${s1}`))).toBe(false);
    expect(existsSync(join(sim.volumesDir, `snapshot-${s1}.changes.json`))).toBe(false);

    const s3 = await api.createSnapshot(id);
    expect(changes(`snapshot-${s3}`)).toEqual({
      volume_id: id,
      since: {
        [s1]: [
          [MiB, 2 * MiB],
          [20 * MiB, 200],
        ],
        [s2]: [[20 * MiB, 200]],
      },
    });
    expect(changes(`volume-${id}`)).toEqual({
      trackers: {
        [s1]: [
          [MiB, 2 * MiB],
          [20 * MiB, 200],
        ],
        [s2]: [[20 * MiB, 200]],
        [s3]: [],
      },
    });

    // Revert (3.40) to the newest snapshot rewrites the volume wholesale.
    const rev = await api.cinder(
      'POST',
      `/volumes/${id}/action`,
      { revert: { snapshot_id: s3 } },
      { 'openstack-api-version': 'volume 3.40' },
    );
    expect(rev.status).toBe(202);
    await api.waitVolume(id, 'available');
    expect(changes(`volume-${id}`)).toEqual({ trackers: { [s1]: 'all', [s2]: 'all', [s3]: 'all' } });
    expect(await sha('volumes', id)).toBe(await sha('snapshots', s3));
  });

  it('create-from-snapshot copies the data and marks everything changed; extend grows the file; delete removes files', async () => {
    const id = await api.createVolume(1);
    const data = randomBytes(64 * 1024);
    await put(id, 5 * MiB, data);
    const snap = await api.createSnapshot(id);
    const r = await api.cinder('POST', '/volumes', { volume: { snapshot_id: snap, size: 2 } });
    expect(r.status).toBe(202);
    expect(r.body.volume.snapshot_id).toBe(snap);
    const copy = r.body.volume.id;
    await api.waitVolume(copy, 'available');
    expect(statSync(join(sim.volumesDir, `volume-${copy}`)).size).toBe(2 * GiB);
    expect(changes(`volume-${copy}`)).toEqual({ trackers: {} });
    expect(await sha('volumes', copy)).toBe(expectedSha(2 * GiB, [[5 * MiB, data]]));

    expect((await api.cinder('POST', `/volumes/${id}/action`, { 'os-extend': { new_size: 3 } })).status).toBe(
      202,
    );
    await api.waitVolume(id, 'available');
    expect(statSync(join(sim.volumesDir, `volume-${id}`)).size).toBe(3 * GiB);
    expect((await api.volume(id)).size).toBe(3);

    expect((await api.cinder('DELETE', `/volumes/${copy}`)).status).toBe(202);
    await waitFor404(`/volumes/${copy}`);
    expect(existsSync(join(sim.volumesDir, `volume-${copy}`))).toBe(false);
    expect(existsSync(join(sim.volumesDir, `volume-${copy}.changes.json`))).toBe(false);
  });

  async function waitGone(snapshotId: string) {
    await waitFor404(`/snapshots/${snapshotId}`);
  }
  async function waitFor404(path: string) {
    for (let i = 0; i < 500; i++) {
      if ((await api.cinder('GET', path)).status === 404) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${path} still exists`);
  }
});
