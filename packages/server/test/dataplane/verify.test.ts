import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataIntegrityError, ManifestNotFoundError } from '../../src/dataplane/index.js';
import { packKey } from '../../src/dataplane/pack.js';
import { randomData, sha256OfFile } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, MiB } from './support.js';

const SIZE = 16 * MiB;

describe('verify', () => {
  let h: Harness;
  let damagedChunk: { id: string; packId: string; offset: bigint; storedLength: number };

  /** A chunk of volume `volumeId` at `offset`, from the index. */
  async function chunkAt(snapshotId: string, offset: number) {
    const { createHash } = await import('node:crypto');
    const fh = await open(h.lab.snapshotPath(snapshotId), 'r');
    const buffer = Buffer.alloc(64 * 1024);
    await fh.read(buffer, 0, buffer.length, offset);
    await fh.close();
    const id = createHash('sha256').update(buffer).digest('hex');
    return h.db.prisma.chunk.findUniqueOrThrow({
      where: { repositoryId_id: { repositoryId: h.repository.id, id } },
    });
  }

  beforeAll(async () => {
    h = await createHarness();
    await h.lab.createVolume('x', SIZE);
    await h.lab.write('x', 0, randomData(4 * MiB));
    await h.lab.snapshot('x', 'x1');
    await h.backup({ volumeId: 'x', snapshotId: 'x1', backupId: 'x-full' });
    await h.lab.write('x', 8 * MiB, randomData(1 * MiB));
    await h.lab.snapshot('x', 'x2');
    await h.backup({
      volumeId: 'x',
      snapshotId: 'x2',
      backupId: 'x-incr',
      parent: { backupId: 'x-full', snapshotId: 'x1' },
    });
    await h.lab.createVolume('y', SIZE);
    await h.lab.write('y', 2 * MiB, randomData(3 * MiB));
    await h.lab.snapshot('y', 'y1');
    await h.backup({ volumeId: 'y', snapshotId: 'y1', backupId: 'y-full' });
    damagedChunk = await chunkAt('x1', 1 * MiB);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('finds every backup intact at first', async () => {
    for (const backupId of ['x-full', 'x-incr', 'y-full']) {
      const result = await h.plane.verify({ repository: h.repository, backupId });
      expect(result.ok).toBe(true);
      expect(result.damaged).toEqual([]);
    }
    const result = await h.plane.verify({ repository: h.repository, backupId: 'x-incr' });
    expect(result.checkedChunks).toBe(80); // 4 MiB + 1 MiB of 64 KiB chunks
  });

  it('reports a flipped byte in a stored blob for the backups that reference it, naming the chunk', async () => {
    const file = path.join(h.repositoryDir, packKey(damagedChunk.packId));
    const fh = await open(file, 'r+');
    const at = Number(damagedChunk.offset) + Math.floor(damagedChunk.storedLength / 2);
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x01;
    await fh.write(byte, 0, 1, at);
    await fh.close();

    for (const backupId of ['x-full', 'x-incr']) {
      const result = await h.plane.verify({ repository: h.repository, backupId });
      expect(result.ok).toBe(false);
      expect(result.damaged).toHaveLength(1);
      expect(result.damaged[0]!.chunkId).toBe(damagedChunk.id);
      expect(result.damaged[0]!.reason).toMatch(/digest mismatch/);
      expect(result.damaged[0]!.reason).toContain(damagedChunk.packId);
    }
    const other = await h.plane.verify({ repository: h.repository, backupId: 'y-full' });
    expect(other).toMatchObject({ ok: true, damaged: [] });
  });

  it('makes restore of a damaged backup throw DataIntegrityError naming the chunk', async () => {
    const attempt = h.restore('x-incr', 'x-restored', SIZE);
    await expect(attempt).rejects.toBeInstanceOf(DataIntegrityError);
    await expect(h.restore('x-incr', 'x-restored', SIZE)).rejects.toThrow(damagedChunk.id);
    // An undamaged backup of the same repository still restores.
    expect(await h.restore('y-full', 'y-restored', SIZE)).toBe(await sha256OfFile(h.lab.snapshotPath('y1')));
  });

  it('reports the chunks of a missing pack as damaged', async () => {
    const victim = await chunkAt('y1', 3 * MiB);
    const file = path.join(h.repositoryDir, packKey(victim.packId));
    await rename(file, `${file}.moved`);
    try {
      const result = await h.plane.verify({ repository: h.repository, backupId: 'y-full' });
      expect(result.ok).toBe(false);
      expect(result.damaged.map((d) => d.chunkId)).toContain(victim.id);
      expect(result.damaged.every((d) => d.reason.includes('missing'))).toBe(true);
      await expect(h.restore('y-full', 'y-restored-2', SIZE)).rejects.toThrow(/missing/);
    } finally {
      await rename(`${file}.moved`, file);
    }
  });

  it('throws only when the manifest itself is missing', async () => {
    await expect(
      h.plane.verify({ repository: h.repository, backupId: 'no-such-backup' }),
    ).rejects.toBeInstanceOf(ManifestNotFoundError);
  });

  it('reports a damaged manifest', async () => {
    const file = path.join(h.repositoryDir, 'manifests', 'y-full');
    const fh = await open(file, 'r+');
    const { size } = await fh.stat();
    await fh.write(Buffer.from([0xff]), 0, 1, Math.floor(size / 2));
    await fh.close();
    const result = await h.plane.verify({ repository: h.repository, backupId: 'y-full' });
    expect(result.ok).toBe(false);
    expect(result.damaged.some((d) => d.chunkId === 'manifest')).toBe(true);
    await expect(h.restore('y-full', 'y-restored-3', SIZE)).rejects.toBeInstanceOf(DataIntegrityError);
  });
});
