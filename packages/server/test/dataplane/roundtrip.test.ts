import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, randomData, sha256OfFile, textBytes } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, KiB, MiB } from './support.js';

/** 48 MiB + a partial last chunk: random and text regions, holes between. */
const SIZE = 48 * MiB + 12_345;

describe('backup and restore round trip', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
    await h.lab.createVolume('vol', SIZE);
    await h.lab.writeMany('vol', [
      { offset: 0, data: randomData(5 * MiB + 100) },
      { offset: 12 * MiB + 7, data: textBytes(6 * MiB, prng(7)) },
      { offset: 30 * MiB, data: Buffer.alloc(2 * MiB, 0) }, // allocated, but zeros
      { offset: SIZE - 5000, data: randomData(5000) }, // the short last chunk
    ]);
    await h.lab.snapshot('vol', 's1');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('restores a full backup byte for byte', async () => {
    const out = await h.backup({ volumeId: 'vol', snapshotId: 's1', backupId: 'full' });
    expect(out.incremental).toBe(false);
    expect(out.sizeBytes).toBe(SIZE);
    // Non-zero chunks only: the all-zero range (and holes) are not in the manifest.
    expect(out.chunkCount).toBeGreaterThan(160);
    expect(out.chunkCount).toBeLessThan(185);
    expect(out.newChunks).toBe(out.chunkCount);
    expect(out.storedBytes).toBeLessThan(out.logicalBytes);
    expect(await h.plane.hasManifest(h.repository, 'full')).toBe(true);
    const sha = await h.restore('full', 'restored-full', SIZE);
    expect(sha).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));
  });

  it('restores an incremental made from changed-block tracking', async () => {
    await h.lab.writeMany('vol', [
      { offset: 1 * MiB + 3 * KiB, data: randomData(300 * KiB) },
      { offset: 40 * MiB, data: randomData(64 * KiB) }, // into a hole
      { offset: 12 * MiB + 7, data: Buffer.alloc(256 * KiB) }, // text overwritten by zeros
    ]);
    await h.lab.snapshot('vol', 's2');
    const out = await h.backup({
      volumeId: 'vol',
      snapshotId: 's2',
      backupId: 'incr-cbt',
      parent: { backupId: 'full', snapshotId: 's1' },
    });
    expect(out.incremental).toBe(true);
    expect(out.readBytes).toBeLessThanOrEqual(1 * MiB);
    expect(out.newChunks).toBeGreaterThanOrEqual(6);
    const sha = await h.restore('incr-cbt', 'restored-cbt', SIZE);
    expect(sha).toBe(await sha256OfFile(h.lab.snapshotPath('s2')));
  });

  it('restores an incremental whose parent snapshot has no tracker (full read)', async () => {
    await h.lab.write('vol', 20 * MiB, randomData(200 * KiB));
    await h.lab.snapshot('vol', 's3');
    // s3 knows s1 and s2, not "s0": the driver cannot tell, so everything allocated is read.
    const out = await h.backup({
      volumeId: 'vol',
      snapshotId: 's3',
      backupId: 'incr-read',
      parent: { backupId: 'incr-cbt', snapshotId: 's0' },
    });
    expect(out.incremental).toBe(false);
    expect(out.readBytes).toBeGreaterThan(10 * MiB);
    // Only the new data is stored (everything else is in the index already).
    expect(out.newChunks).toBeLessThanOrEqual(5);
    const sha = await h.restore('incr-read', 'restored-read', SIZE);
    expect(sha).toBe(await sha256OfFile(h.lab.snapshotPath('s3')));
  });

  it('falls back to a full read when the parent manifest is gone', async () => {
    await h.lab.snapshot('vol', 's4');
    const out = await h.backup({
      volumeId: 'vol',
      snapshotId: 's4',
      backupId: 'no-parent',
      parent: { backupId: 'never-existed', snapshotId: 's3' },
    });
    expect(out.incremental).toBe(false);
    expect(out.newChunks).toBe(0);
    expect(await h.restore('no-parent', 'restored-no-parent', SIZE)).toBe(
      await sha256OfFile(h.lab.snapshotPath('s4')),
    );
  });

  it('gives exactly the backup when restoring into a volume full of other data', async () => {
    await h.lab.createVolume('busy', SIZE);
    for (let offset = 0; offset < SIZE; offset += 8 * MiB) {
      await h.lab.write('busy', offset, randomData(Math.min(8 * MiB, SIZE - offset)));
    }
    const sha = await h.restore('incr-cbt', 'busy', SIZE);
    expect(sha).toBe(await sha256OfFile(h.lab.snapshotPath('s2')));
  });

  it('follows a volume that was extended between backups', async () => {
    await h.lab.createVolume('grow', 4 * MiB + 100);
    await h.lab.write('grow', 4 * MiB, randomData(100));
    await h.lab.snapshot('grow', 'g1');
    await h.backup({ volumeId: 'grow', snapshotId: 'g1', backupId: 'grow-1' });
    // Extend (as Cinder's extend does: no write), then write a little in the new area.
    const { truncate } = await import('node:fs/promises');
    await truncate(h.lab.volumePath('grow'), 8 * MiB);
    await h.lab.write('grow', 6 * MiB, randomData(10));
    await h.lab.snapshot('grow', 'g2');
    const out = await h.backup({
      volumeId: 'grow',
      snapshotId: 'g2',
      backupId: 'grow-2',
      parent: { backupId: 'grow-1', snapshotId: 'g1' },
    });
    expect(out.incremental).toBe(true);
    expect(out.sizeBytes).toBe(8 * MiB);
    expect(await h.restore('grow-2', 'grown', 8 * MiB)).toBe(await sha256OfFile(h.lab.snapshotPath('g2')));
  });

  it('runs backups of two volumes into one repository at the same time', async () => {
    const shared = randomData(2 * MiB);
    for (const id of ['c1', 'c2']) {
      await h.lab.createVolume(id, 16 * MiB);
      await h.lab.writeMany(id, [
        { offset: 0, data: shared },
        { offset: 8 * MiB, data: randomData(3 * MiB) },
      ]);
      await h.lab.snapshot(id, `${id}-s`);
    }
    const [a, b] = await Promise.all([
      h.backup({ volumeId: 'c1', snapshotId: 'c1-s', backupId: 'c1-b' }),
      h.backup({ volumeId: 'c2', snapshotId: 'c2-s', backupId: 'c2-b' }),
    ]);
    expect(a.chunkCount).toBe(80);
    expect(b.chunkCount).toBe(80);
    expect(await h.restore('c1-b', 'c1-r', 16 * MiB)).toBe(await sha256OfFile(h.lab.snapshotPath('c1-s')));
    expect(await h.restore('c2-b', 'c2-r', 16 * MiB)).toBe(await sha256OfFile(h.lab.snapshotPath('c2-s')));
  });

  it('reports progress up to the total', async () => {
    const seen: Array<[number, number]> = [];
    await h.backup({
      volumeId: 'vol',
      snapshotId: 's1',
      backupId: 'progress',
      onProgress: (done, total) => seen.push([done, total]),
    });
    expect(seen.length).toBeGreaterThan(1);
    const [lastDone, total] = seen[seen.length - 1]!;
    expect(lastDone).toBe(total);
    expect(seen.every(([d], i) => i === 0 || d >= seen[i - 1]![0])).toBe(true);
  });

  it('keeps an empty (never written) volume at zero stored bytes', async () => {
    await h.lab.createVolume('empty', 32 * MiB);
    await h.lab.snapshot('empty', 'e1');
    const out = await h.backup({ volumeId: 'empty', snapshotId: 'e1', backupId: 'empty' });
    expect(out.chunkCount).toBe(0);
    expect(out.newChunks).toBe(0);
    expect(out.storedBytes).toBe(0);
    expect(await h.restore('empty', 'restored-empty', 32 * MiB)).toBe(
      await sha256OfFile(h.lab.snapshotPath('e1')),
    );
  });

  it('stores a chunk once however far apart it recurs: before, during and after its pack is indexed', async () => {
    // 24 MiB of distinct random chunks, each written again 1, 8 and 40 MiB further on: the copies
    // are decided while the first one is pending, being sealed, or long indexed (packs are 16 MiB).
    const unique = randomData(24 * MiB);
    await h.lab.createVolume('recurring', 96 * MiB);
    await h.lab.writeMany('recurring', [
      { offset: 0, data: unique },
      { offset: 25 * MiB, data: unique.subarray(0, 2 * MiB) },
      { offset: 32 * MiB, data: unique.subarray(0, 16 * MiB) },
      { offset: 64 * MiB, data: unique },
    ]);
    await h.lab.snapshot('recurring', 'r1');
    const out = await h.backup({ volumeId: 'recurring', snapshotId: 'r1', backupId: 'recurring' });
    expect(out.chunkCount).toBe((24 + 2 + 16 + 24) * 16);
    expect(out.newChunks).toBe(24 * 16); // 64 KiB chunks
    expect(await h.restore('recurring', 'restored-recurring', 96 * MiB)).toBe(
      await sha256OfFile(h.lab.snapshotPath('r1')),
    );
  });

  it('fills packs up to 16 MiB: the blobs of a batch split across two packs where one ends', async () => {
    // 40 MiB of random chunks = 5 batches of 8 MiB: 3 packs (16 + 16 + 8 MiB), not one per batch.
    const h2 = await createHarness();
    try {
      await h2.lab.createVolume('packed', 40 * MiB);
      await h2.lab.write('packed', 0, randomData(40 * MiB));
      await h2.lab.snapshot('packed', 'p1');
      await h2.backup({ volumeId: 'packed', snapshotId: 'p1', backupId: 'packed' });
      const packs = await packSizes(path.join(h2.repositoryDir, 'packs'));
      expect(packs).toHaveLength(3);
      const [last, ...full] = packs.sort((a, b) => a - b);
      for (const size of full) {
        expect(size).toBeGreaterThan(16 * MiB - 64 * KiB);
        expect(size).toBeLessThanOrEqual(16 * MiB + 64 * KiB); // + the pack's index of its blobs
      }
      expect(last).toBeGreaterThan(8 * MiB - 64 * KiB);
      expect(await h2.restore('packed', 'restored-packed', 40 * MiB)).toBe(
        await sha256OfFile(h2.lab.snapshotPath('p1')),
      );
    } finally {
      await h2.close();
    }
  });

  it('restores byte for byte into a target without writev (gathered writes) as into one with it', async () => {
    // The backups above hold recurring chunks (text, copies): runs of them are not one buffer.
    const withWritev = await h.restore('recurring', 'restored-writev', 96 * MiB);
    const file = await h.driver.openForRestore({ volumeId: 'restored-gathered', sizeBytes: 96 * MiB });
    let writes = 0;
    const plain = {
      write: (offset: number, data: Buffer) => {
        writes++;
        return file.write(offset, data);
      },
      finish: () => file.finish(),
      abort: () => file.abort(),
    };
    await h.plane.restore({ repository: h.repository, backupId: 'recurring', target: plain });
    await plain.finish();
    expect(writes).toBeGreaterThan(0);
    expect(await sha256OfFile(h.lab.volumePath('restored-gathered'))).toBe(withWritev);
    expect(withWritev).toBe(await sha256OfFile(h.lab.snapshotPath('r1')));
  });
});

async function packSizes(dir: string): Promise<number[]> {
  const sizes: number[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) sizes.push((await stat(path.join(entry.parentPath, entry.name))).size);
  }
  return sizes;
}
