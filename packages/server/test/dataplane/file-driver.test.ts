import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileStorageDriver } from '../../src/dataplane/file-driver.js';
import { randomData, sha256OfFile } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, KiB, MiB } from './support.js';

describe('the file storage driver', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ threads: 1 });
    await h.lab.createVolume('v', 16 * MiB);
    await h.lab.snapshot('v', 's0'); // an empty volume's first snapshot: starts the tracker
    await h.lab.write('v', 1 * MiB, randomData(100 * KiB));
    await h.lab.write('v', 9 * MiB, randomData(2 * MiB));
    await h.lab.snapshot('v', 's1');
    await h.lab.write('v', 4 * MiB, randomData(4 * KiB));
    await h.lab.snapshot('v', 's2');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reads data extents with SEEK_DATA/SEEK_HOLE', async () => {
    const reader = await h.driver.openSnapshot({ volumeId: 'v', snapshotId: 's1' });
    try {
      expect(reader.sizeBytes).toBe(16 * MiB);
      const extents = await reader.dataExtents();
      const covered = extents.reduce((n, e) => n + e.length, 0);
      expect(covered).toBeGreaterThanOrEqual(100 * KiB + 2 * MiB);
      expect(covered).toBeLessThan(3 * MiB);
      expect(extents.some((e) => e.offset <= 1 * MiB && e.offset + e.length >= 1 * MiB + 100 * KiB)).toBe(
        true,
      );
      expect(extents.some((e) => e.offset <= 9 * MiB && e.offset + e.length >= 11 * MiB)).toBe(true);
      const data = await reader.read(9 * MiB, 1000);
      expect(data.length).toBe(1000);
      expect(data.equals(Buffer.alloc(1000))).toBe(false);
      expect((await reader.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('tells what changed since an older snapshot, and null when it cannot tell', async () => {
    const reader = await h.driver.openSnapshot({ volumeId: 'v', snapshotId: 's2' });
    try {
      expect(await reader.changedSince('s1')).toEqual([{ offset: 4 * MiB, length: 4 * KiB }]);
      expect(await reader.changedSince('s0')).toEqual([
        { offset: 1 * MiB, length: 100 * KiB },
        { offset: 4 * MiB, length: 4 * KiB },
        { offset: 9 * MiB, length: 2 * MiB },
      ]);
      expect(await reader.changedSince('unknown')).toBeNull();
    } finally {
      await reader.close();
    }
    // A snapshot deleted since keeps its tracker on the volume: the next snapshot still knows it.
    await h.lab.deleteSnapshot('s1');
    await h.lab.write('v', 0, randomData(10));
    await h.lab.snapshot('v', 's3');
    const s3 = await h.driver.openSnapshot({ volumeId: 'v', snapshotId: 's3' });
    try {
      expect(await s3.changedSince('s1')).toEqual([
        { offset: 0, length: 10 },
        { offset: 4 * MiB, length: 4 * KiB },
      ]);
    } finally {
      await s3.close();
    }
  });

  it('answers null for "all", an unreadable or missing changes file, or another volume', async () => {
    const changes = `${h.lab.snapshotPath('s3')}.changes.json`;
    const original = await readFile(changes, 'utf8');
    const reader = await h.driver.openSnapshot({ volumeId: 'v', snapshotId: 's3' });
    try {
      await writeFile(changes, JSON.stringify({ volume_id: 'v', since: { s2: 'all' } }));
      expect(await reader.changedSince('s2')).toBeNull();
      await writeFile(changes, '{not json');
      expect(await reader.changedSince('s2')).toBeNull();
      await writeFile(changes, JSON.stringify({ volume_id: 'other', since: { s2: [[0, 10]] } }));
      expect(await reader.changedSince('s2')).toBeNull();
      const { rm } = await import('node:fs/promises');
      await rm(changes);
      expect(await reader.changedSince('s2')).toBeNull();
    } finally {
      await reader.close();
      await writeFile(changes, original);
    }
  });

  it('restores into a zeroed volume and marks every tracker "all", keeping other keys', async () => {
    const changesFile = `${h.lab.volumePath('v')}.changes.json`;
    const doc = JSON.parse(await readFile(changesFile, 'utf8'));
    await writeFile(changesFile, JSON.stringify({ ...doc, note: 'kept' }));
    const writer = await h.driver.openForRestore({ volumeId: 'v', sizeBytes: 16 * MiB });
    await writer.write(2 * MiB, Buffer.alloc(4096, 1));
    await writer.finish();
    const after = JSON.parse(await readFile(changesFile, 'utf8'));
    expect(after.note).toBe('kept');
    expect(Object.keys(after.trackers)).toEqual(Object.keys(doc.trackers));
    expect(Object.values(after.trackers).every((t) => t === 'all')).toBe(true);
    const expected = Buffer.alloc(16 * MiB);
    expected.fill(1, 2 * MiB, 2 * MiB + 4096);
    const { createHash } = await import('node:crypto');
    expect(await sha256OfFile(h.lab.volumePath('v'))).toBe(
      createHash('sha256').update(expected).digest('hex'),
    );
  });

  it('prepares a restore target while the data plane starts: its writes wait, a failure is theirs', async () => {
    // Written at once after openForRestore: lands in the emptied, resized file.
    const writer = await h.driver.openForRestore({ volumeId: 'early', sizeBytes: 2 * MiB });
    await writer.write(MiB, Buffer.alloc(4096, 7));
    await writer.finish();
    const volume = await readFile(h.lab.volumePath('early'));
    expect(volume.length).toBe(2 * MiB);
    expect(volume.subarray(MiB, MiB + 4096).equals(Buffer.alloc(4096, 7))).toBe(true);
    expect(volume.subarray(0, MiB).equals(Buffer.alloc(MiB))).toBe(true);

    // A directory that is not there: the first write and finish() say why; abort() still works.
    const missing = createFileStorageDriver({ dir: join(h.lab.dir, 'no-such-dir') });
    const failing = await missing.openForRestore({ volumeId: 'x', sizeBytes: MiB });
    await expect(failing.write(0, Buffer.alloc(4096))).rejects.toThrow(/ENOENT/);
    await expect(failing.finish()).rejects.toThrow(/ENOENT/);
    await failing.abort();
  });

  it('rolls back to any snapshot, leaving newer snapshots intact', async () => {
    const s2 = await sha256OfFile(h.lab.snapshotPath('s2'));
    const s3 = await sha256OfFile(h.lab.snapshotPath('s3'));
    await h.driver.rollback({ volumeId: 'v', snapshotId: 's2' }); // not the newest
    expect(await sha256OfFile(h.lab.volumePath('v'))).toBe(s2);
    expect(await sha256OfFile(h.lab.snapshotPath('s3'))).toBe(s3);
    const changes = JSON.parse(await readFile(`${h.lab.volumePath('v')}.changes.json`, 'utf8'));
    expect(Object.values(changes.trackers).every((t) => t === 'all')).toBe(true);
    // Sparse: the rolled-back volume holds about the snapshot's data, not 16 MiB.
    const { stat } = await import('node:fs/promises');
    expect((await stat(h.lab.volumePath('v'))).blocks * 512).toBeLessThan(4 * MiB);
    await h.driver.rollback({ volumeId: 'v', snapshotId: 's3' });
    expect(await sha256OfFile(h.lab.volumePath('v'))).toBe(s3);
  });

  it('rejects ids that would escape the directory', async () => {
    await expect(h.driver.openSnapshot({ volumeId: 'v', snapshotId: '../etc/passwd' })).rejects.toThrow(
      /invalid id/,
    );
  });
});

describe('copy-on-write snapshots (hard links, docs/file-volume-layout.md)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ threads: 1 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('restore and rollback give the volume its own inode and leave a linked snapshot intact', async () => {
    const { link, stat } = await import('node:fs/promises');
    const path = await import('node:path');
    await h.lab.createVolume('cow', 4 * MiB);
    await h.lab.write('cow', 0, randomData(1 * MiB));
    const volumeFile = path.join(h.lab.dir, 'volume-cow');
    const snapshotFile = path.join(h.lab.dir, 'snapshot-linked');
    await link(volumeFile, snapshotFile); // as the simulator takes a snapshot
    const snapshotSha = await sha256OfFile(snapshotFile);

    const writer = await h.driver.openForRestore({ volumeId: 'cow', sizeBytes: 4 * MiB });
    await writer.write(2 * MiB, randomData(64 * KiB));
    await writer.finish();
    expect((await stat(snapshotFile)).nlink).toBe(1);
    expect(await sha256OfFile(snapshotFile)).toBe(snapshotSha);

    await link(volumeFile, path.join(h.lab.dir, 'snapshot-linked-2'));
    await h.driver.rollback({ volumeId: 'cow', snapshotId: 'linked' });
    expect(await sha256OfFile(volumeFile)).toBe(snapshotSha);
    expect(await sha256OfFile(snapshotFile)).toBe(snapshotSha);
    expect(await sha256OfFile(path.join(h.lab.dir, 'snapshot-linked-2'))).not.toBe(snapshotSha);
  });
});
