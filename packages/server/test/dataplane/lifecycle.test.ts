import { createHash } from 'node:crypto';
import { open, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../src/dataplane/object-store.js';
import { packIdOfKey, readPackIndex } from '../../src/dataplane/pack.js';
import { randomData, sha256OfFile } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, KiB, MiB } from './support.js';

const SIZE = 24 * MiB;
const CHUNK = 64 * KiB;

/** The ids of the non-zero 64 KiB chunks of a file. */
async function chunkIdsOf(file: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const fh = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(CHUNK);
    const zero = Buffer.alloc(CHUNK);
    for (let pos = 0; ; pos += CHUNK) {
      const { bytesRead } = await fh.read(buffer, 0, CHUNK, pos);
      if (bytesRead === 0) break;
      const view = buffer.subarray(0, bytesRead);
      if (!view.equals(zero.subarray(0, bytesRead))) ids.add(createHash('sha256').update(view).digest('hex'));
    }
  } finally {
    await fh.close();
  }
  return ids;
}

/** Chunk ids found in the trailers of all pack objects of the repository. */
async function idsInPacks(h: Harness): Promise<Set<string>> {
  const store = new FileObjectStore(h.repositoryUrl, h.repositoryDir);
  const ids = new Set<string>();
  for await (const object of store.list('packs/')) {
    const packId = packIdOfKey(object.key);
    if (!packId) continue;
    for (const entry of await readPackIndex(store, packId)) ids.add(entry.id);
  }
  return ids;
}

async function idsInIndex(h: Harness): Promise<Set<string>> {
  const rows = await h.db.prisma.chunk.findMany({
    where: { repositoryId: h.repository.id },
    select: { id: true },
  });
  return new Set(rows.map((r) => r.id));
}

describe('deleting backups and collecting garbage', () => {
  let h: Harness;
  let volumeAIds: Set<string>;

  beforeAll(async () => {
    h = await createHarness();
    // Volume A: a full backup, then an incremental built on it.
    await h.lab.createVolume('a', SIZE);
    await h.lab.write('a', 0, randomData(6 * MiB));
    await h.lab.write('a', 16 * MiB, randomData(2 * MiB));
    await h.lab.snapshot('a', 'a1');
    await h.backup({ volumeId: 'a', snapshotId: 'a1', backupId: 'a-full' });
    await h.lab.write('a', 3 * MiB + 5, randomData(512 * KiB));
    await h.lab.write('a', 10 * MiB, randomData(1 * MiB));
    await h.lab.snapshot('a', 'a2');
    const incr = await h.backup({
      volumeId: 'a',
      snapshotId: 'a2',
      backupId: 'a-incr',
      parent: { backupId: 'a-full', snapshotId: 'a1' },
    });
    expect(incr.incremental).toBe(true);
    // Volume B: two backups of its own.
    await h.lab.createVolume('b', SIZE);
    await h.lab.write('b', 1 * MiB, randomData(4 * MiB));
    await h.lab.snapshot('b', 'b1');
    await h.backup({ volumeId: 'b', snapshotId: 'b1', backupId: 'b-full' });
    await h.lab.write('b', 20 * MiB, randomData(1 * MiB));
    await h.lab.snapshot('b', 'b2');
    await h.backup({
      volumeId: 'b',
      snapshotId: 'b2',
      backupId: 'b-incr',
      parent: { backupId: 'b-full', snapshotId: 'b1' },
    });

    const idsB = new Set([
      ...(await chunkIdsOf(h.lab.snapshotPath('b1'))),
      ...(await chunkIdsOf(h.lab.snapshotPath('b2'))),
    ]);
    volumeAIds = new Set(
      [
        ...(await chunkIdsOf(h.lab.snapshotPath('a1'))),
        ...(await chunkIdsOf(h.lab.snapshotPath('a2'))),
      ].filter((id) => !idsB.has(id)),
    );
    expect(volumeAIds.size).toBeGreaterThan(100);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps a later incremental restorable after deleting the backup it was built on', async () => {
    await h.plane.deleteBackup({ repository: h.repository, backupId: 'a-full' });
    await h.plane.deleteBackup({ repository: h.repository, backupId: 'a-full' }); // idempotent
    expect(await h.plane.hasManifest(h.repository, 'a-full')).toBe(false);
    const expected = await sha256OfFile(h.lab.snapshotPath('a2'));
    expect(await h.restore('a-incr', 'a-restored-1', SIZE)).toBe(expected);

    const gc = await h.plane.collectGarbage({ repository: h.repository });
    // Chunks only a-full had (overwritten since) are gone; a-incr still restores.
    const a2 = await chunkIdsOf(h.lab.snapshotPath('a2'));
    const onlyInA1 = [...(await chunkIdsOf(h.lab.snapshotPath('a1')))].filter((id) => !a2.has(id));
    expect(onlyInA1.length).toBe(9);
    expect(gc.deletedChunks).toBe(onlyInA1.length);
    expect(gc.rewrittenPacks).toBe(1);
    expect(gc.freedBytes).toBeGreaterThan(onlyInA1.length * 60 * KiB);
    const inIndex = await idsInIndex(h);
    const inPacks = await idsInPacks(h);
    expect(onlyInA1.filter((id) => inIndex.has(id) || inPacks.has(id))).toEqual([]);
    expect(await h.restore('a-incr', 'a-restored-2', SIZE)).toBe(expected);
    const verify = await h.plane.verify({ repository: h.repository, backupId: 'a-incr' });
    expect(verify).toMatchObject({ ok: true, damaged: [] });
  });

  it('leaves no chunk of a volume once all its backups are deleted, and other volumes restore', async () => {
    await h.plane.deleteBackup({ repository: h.repository, backupId: 'a-incr' });
    const before = await h.plane.stats(h.repository);
    const gc = await h.plane.collectGarbage({ repository: h.repository });
    const after = await h.plane.stats(h.repository);
    expect(gc.deletedChunks).toBe(before.chunkCount - after.chunkCount);
    expect(after.storedBytes).toBeLessThan(before.storedBytes);

    const inPacks = await idsInPacks(h);
    const inIndex = await idsInIndex(h);
    expect([...volumeAIds].filter((id) => inPacks.has(id))).toEqual([]);
    expect([...volumeAIds].filter((id) => inIndex.has(id))).toEqual([]);
    // Every index row points into a pack that holds it, and every pack blob is indexed.
    expect([...inIndex].sort()).toEqual([...inPacks].sort());

    expect(await h.restore('b-full', 'b-restored-1', SIZE)).toBe(
      await sha256OfFile(h.lab.snapshotPath('b1')),
    );
    expect(await h.restore('b-incr', 'b-restored-2', SIZE)).toBe(
      await sha256OfFile(h.lab.snapshotPath('b2')),
    );

    // Nothing left to do: a second run is a no-op.
    expect(await h.plane.collectGarbage({ repository: h.repository })).toEqual({
      deletedPacks: 0,
      rewrittenPacks: 0,
      deletedChunks: 0,
      freedBytes: 0,
    });
  });

  it('removes stale temporary objects, keeping recent ones unless told', async () => {
    const packsDir = path.join(h.repositoryDir, 'packs', 'ab');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(packsDir, { recursive: true });
    const stale = path.join(packsDir, `${'ab'.padEnd(32, '0')}.tmp-111111`);
    const fresh = path.join(h.repositoryDir, 'manifests', 'x.tmp-222222');
    await writeFile(stale, randomData(1000));
    await writeFile(fresh, randomData(10));
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, old, old);

    const first = await h.plane.collectGarbage({ repository: h.repository });
    expect(first.freedBytes).toBe(1000);
    // packs/ab may also hold live packs of the tests above (their ids are random), so look for this file.
    expect(await readdir(packsDir)).not.toContain(path.basename(stale));
    expect(await readdir(path.join(h.repositoryDir, 'manifests'))).toContain('x.tmp-222222');

    const second = await h.plane.collectGarbage({ repository: h.repository, tempFilesOlderThanMs: 0 });
    expect(second.freedBytes).toBe(10);
    expect(await readdir(path.join(h.repositoryDir, 'manifests'))).not.toContain('x.tmp-222222');
  });
});
