import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256OfFile, writeBenchmarkDataset, writeRandomChanges } from '../../src/dataplane/testing.js';
import { createHarness, GiB, type Harness, MiB } from './support.js';

/**
 * The benchmark's dataset: a 1 GiB volume = 256 MiB random, 256 MiB repetitive text, 512 MiB never
 * written; the 1% change = 40 random 256 KiB writes at random offsets.
 */
describe('the 1 GiB benchmark dataset', () => {
  let h: Harness;
  let changedBytes = 0;

  beforeAll(async () => {
    h = await createHarness();
    await h.lab.createVolume('bench', GiB);
    await writeBenchmarkDataset(h.lab, 'bench', GiB);
    await h.lab.snapshot('bench', 's0');
    const changes = await writeRandomChanges(h.lab, 'bench', GiB);
    changedBytes = changes.reduce((n, e) => n + e.length, 0);
    await h.lab.snapshot('bench', 's1');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('backs up in full with bounded memory (peak RSS < 512 MiB)', async () => {
    global.gc?.();
    const before = process.memoryUsage.rss();
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);
    try {
      const out = await h.backup({ volumeId: 'bench', snapshotId: 's0', backupId: 'full' });
      expect(out.readBytes).toBe(512 * MiB); // holes are not read
      expect(out.chunkCount).toBe(8192);
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage.rss());
    console.log(
      `full backup: RSS before ${(before / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB ` +
        `(+${((peak - before) / MiB).toFixed(0)} MiB)`,
    );
    expect(peak).toBeLessThan(512 * MiB);
  }, 120_000);

  it('stores < 5% of the full backup for the 1% change, reading ≤ 2× the changed bytes', async () => {
    const full = await h.plane.stats(h.repository);
    const incremental = await h.backup({
      volumeId: 'bench',
      snapshotId: 's1',
      backupId: 'incr',
      parent: { backupId: 'full', snapshotId: 's0' },
    });
    console.log(
      `full backup stored ${full.storedBytes} bytes; the 1% incremental stored ${incremental.storedBytes} bytes ` +
        `(${((100 * incremental.storedBytes) / full.storedBytes).toFixed(2)}%), read ${incremental.readBytes} ` +
        `bytes for ${changedBytes} changed`,
    );
    expect(incremental.incremental).toBe(true);
    expect(incremental.storedBytes).toBeLessThan(0.05 * full.storedBytes);
    expect(incremental.readBytes).toBeLessThanOrEqual(2 * changedBytes);
    expect(await h.restore('incr', 'restored', GiB)).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));
  }, 120_000);

  it('stores (almost) nothing for a never-written 1 GiB volume', async () => {
    await h.lab.createVolume('blank', GiB);
    await h.lab.snapshot('blank', 'b0');
    const out = await h.backup({ volumeId: 'blank', snapshotId: 'b0', backupId: 'blank' });
    expect(out.storedBytes).toBe(0);
    expect(out.chunkCount).toBe(0);
    expect(out.readBytes).toBe(0);
    const { size } = await stat(`${h.repositoryDir}/manifests/blank`);
    expect(size).toBeLessThan(1024);
  });

  it('stores ~0 bytes for a full read of an unchanged volume', async () => {
    const out = await h.backup({ volumeId: 'bench', snapshotId: 's1', backupId: 'reread' });
    expect(out.incremental).toBe(false);
    expect(out.newChunks).toBe(0);
    expect(out.storedBytes).toBe(0);
  }, 120_000);
});
