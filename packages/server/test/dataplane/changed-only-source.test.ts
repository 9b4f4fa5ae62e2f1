import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeExtents } from '../../src/dataplane/extents.js';
import type { Extent, SnapshotReader } from '../../src/dataplane/index.js';
import { sha256OfFile } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, KiB, MiB } from './support.js';

/**
 * A source that, like the `rbd` driver's export-diff stream, gives an incremental only the changed
 * bytes (readsChangedOnly): the data plane completes each chunk from the parent backup. Built on the
 * `file` driver's snapshot, writing only the changed bytes and garbage nowhere else.
 */
function changedOnly(inner: SnapshotReader): SnapshotReader & { bytesRead: number } {
  let changed: Extent[] | null = null;
  const source = {
    sizeBytes: inner.sizeBytes,
    bytesRead: 0,
    get readsChangedOnly() {
      return changed !== null;
    },
    async changedSince(older: string) {
      changed = await inner.changedSince(older);
      return changed;
    },
    async dataExtents() {
      changed = null;
      return inner.dataExtents();
    },
    async read(offset: number, length: number) {
      const buffer = Buffer.alloc(length);
      await source.readInto(offset, buffer);
      return buffer;
    },
    async readInto(offset: number, target: Buffer) {
      // Garbage in the batch buffers proves that every byte of a stored chunk was written.
      target.fill(0xa5);
      const data = await inner.read(offset, target.length);
      if (!changed) {
        data.copy(target);
        source.bytesRead += target.length;
        return;
      }
      for (const e of normalizeExtents(changed, inner.sizeBytes)) {
        const start = Math.max(e.offset, offset);
        const end = Math.min(e.offset + e.length, offset + target.length);
        if (end <= start) continue;
        data.copy(target, start - offset, start - offset, end - offset);
        source.bytesRead += end - start;
      }
    },
    close: () => inner.close(),
  };
  return source;
}

describe('an incremental from a source that reads only the changed bytes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(() => h?.close());

  it('completes partly changed chunks from the parent and reads nothing else', async () => {
    const size = 64 * MiB;
    await h.lab.createVolume('v', size);
    await h.lab.writeMany('v', [
      { offset: 0, data: randomBytes(8 * MiB) },
      { offset: 20 * MiB, data: randomBytes(3 * MiB + 12345) },
    ]);
    await h.lab.snapshot('v', 's0');
    const full = await h.backup({ volumeId: 'v', snapshotId: 's0', backupId: 'b0' });
    expect(full.incremental).toBe(false);

    const writes = [
      { offset: 12345, data: randomBytes(100) }, // inside a chunk
      { offset: 5 * MiB - 10, data: randomBytes(70_000) }, // across a chunk boundary
      { offset: 21 * MiB, data: randomBytes(64 * KiB) }, // exactly one chunk
      { offset: 40 * MiB + 100, data: randomBytes(10) }, // into a never-written chunk
      { offset: size - 5, data: randomBytes(5) }, // the last bytes
    ];
    await h.lab.writeMany('v', writes);
    await h.lab.snapshot('v', 's1');
    const source = changedOnly(await h.driver.openSnapshot({ volumeId: 'v', snapshotId: 's1' }));
    let output: Awaited<ReturnType<typeof h.plane.backup>>;
    try {
      output = await h.plane.backup({
        repository: h.repository,
        backupId: 'b1',
        volumeId: 'v',
        source,
        parent: { backupId: 'b0', snapshotId: 's0' },
      });
    } finally {
      await source.close();
    }
    const written = writes.reduce((n, w) => n + w.data.length, 0);
    expect(output.incremental).toBe(true);
    expect(output.readBytes).toBe(written);
    expect(await h.restore('b1', 'restored', size)).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));
    // The parent is untouched.
    expect(await h.restore('b0', 'restored0', size)).toBe(await sha256OfFile(h.lab.snapshotPath('s0')));
  });
});
