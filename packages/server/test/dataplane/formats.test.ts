import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateShared } from '../../src/dataplane/direct-io.js';
import { ManifestNotFoundError } from '../../src/dataplane/errors.js';
import { batchesOf, chunkRangesOf, normalizeExtents } from '../../src/dataplane/extents.js';
import { ManifestCorruptError, ManifestReader, ManifestWriter } from '../../src/dataplane/manifest.js';
import { FileObjectStore } from '../../src/dataplane/object-store.js';
import { PackBuilder, packKey, readPackIndex } from '../../src/dataplane/pack.js';

describe('repository formats', () => {
  let dir: string;
  let store: FileObjectStore;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dataplane-formats-'));
    store = new FileObjectStore(pathToFileURL(dir).href, dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a large manifest back in index order, across read buffers', async () => {
    const chunkSize = 64 * 1024;
    const sizeBytes = 2 ** 40; // 1 TiB: 16 M chunk indexes
    const writer = await ManifestWriter.create(store, {
      backupId: 'big',
      volumeId: 'v',
      sizeBytes,
      chunkSize,
      createdAt: new Date().toISOString(),
      parentBackupId: null,
    });
    const expected: Array<{ index: number; id: string }> = [];
    let index = 0;
    for (let i = 0; i < 60_000; i++) {
      index += 1 + (i % 7 === 0 ? 100_000 + i : i % 3);
      if (index >= sizeBytes / chunkSize) break;
      const id = createHash('sha256').update(String(i)).digest('hex');
      expected.push({ index, id });
      await writer.add(index, id);
    }
    await writer.commit();
    const reader = await ManifestReader.open(store, 'big');
    expect(reader.entryCount).toBe(expected.length);
    expect(reader.header).toMatchObject({ backupId: 'big', volumeId: 'v', sizeBytes, chunkSize });
    const got: Array<{ index: number; id: string }> = [];
    for await (const batch of reader.batches(1000)) got.push(...batch);
    expect(got).toEqual(expected);
    // ~33 bytes per entry: far below 1 MiB per 16 K entries.
    expect((await store.size('manifests/big'))!).toBeLessThan(expected.length * 34 + 1024);
  });

  it('detects a truncated or damaged manifest, and a missing one', async () => {
    await expect(ManifestReader.open(store, 'missing')).rejects.toBeInstanceOf(ManifestNotFoundError);
    const file = path.join(dir, 'manifests', 'big');
    const { size } = await (await import('node:fs/promises')).stat(file);
    await truncate(file, size - 10);
    await expect(ManifestReader.open(store, 'big')).rejects.toBeInstanceOf(ManifestCorruptError);
  });

  it('refuses manifest entries out of order', async () => {
    const writer = await ManifestWriter.create(store, {
      backupId: 'order',
      volumeId: 'v',
      sizeBytes: 1024 * 1024,
      chunkSize: 65536,
      createdAt: new Date().toISOString(),
      parentBackupId: null,
    });
    writer.add(3, 'a'.repeat(64));
    expect(() => writer.add(3, 'b'.repeat(64))).toThrow(/out of order/);
    expect(() => writer.add(16, 'b'.repeat(64))).toThrow(/out of order/);
    await writer.abort();
    expect(await store.size('manifests/order')).toBeNull();
  });

  it('writes self-describing packs whose index can be read back alone', async () => {
    const builder = await PackBuilder.create(store);
    const blobs = [randomBytes(1000), randomBytes(5000), randomBytes(3)];
    await builder.append(
      Buffer.concat(blobs),
      blobs.map((b) => ({
        id: createHash('sha256').update(b).digest('hex'),
        storedLength: b.length,
        rawLength: b.length,
        flags: 0,
      })),
    );
    // Nothing visible until sealed.
    expect(await store.size(packKey(builder.packId))).toBeNull();
    const size = await builder.seal();
    const entries = await readPackIndex(store, builder.packId);
    expect(entries).toHaveLength(3);
    for (const [i, entry] of entries.entries()) {
      const data = await store.readRange(packKey(builder.packId), entry.offset, entry.storedLength);
      expect(data.equals(blobs[i]!)).toBe(true);
    }
    expect(size).toBe(16 + 6003 + 3 * 52 + 52);
    await truncate(path.join(dir, packKey(builder.packId)), size - 1);
    await expect(readPackIndex(store, builder.packId)).rejects.toThrow(/no index|truncated|checksum/);
  });

  it('writes a run of page-aligned blobs from their memory, at a block boundary of the pack', async () => {
    const entryOf = (b: Uint8Array, flags = 0) => ({
      id: createHash('sha256').update(b).digest('hex'),
      storedLength: b.length,
      rawLength: b.length,
      flags,
    });
    const small = randomBytes(100);
    // As the data plane leaves chunks stored raw: where they were read, in page-aligned shared memory.
    const memory = allocateShared(2 * 1024 * 1024);
    const raw = Array.from({ length: 20 }, (_, i) => Buffer.from(memory, i * 65536, 65536));
    for (const chunk of raw) randomFillSync(chunk);
    const tail = Buffer.from(memory, 20 * 65536, 50);
    randomFillSync(tail);

    const builder = await PackBuilder.create(store);
    await builder.append(small, [entryOf(small)]);
    const { entries, written } = await builder.append(Buffer.from(memory, 0, 20 * 65536 + 50), [
      ...raw.map((chunk) => entryOf(chunk)),
      entryOf(tail, 1),
    ]);
    await written;
    // Not enough for a run of its own (< IN_PLACE_MIN_BYTES): copied, back to back.
    const few = Buffer.from(allocateShared(64 * 1024), 0, 16 * 4096);
    randomFillSync(few);
    await builder.append(few, [entryOf(few)]);
    await builder.seal();

    const stored = await readPackIndex(store, builder.packId);
    const run = 4096; // the pack was at 16 + 100: padded to the next block
    expect(stored.map((e) => e.offset)).toEqual([
      16,
      ...raw.map((_, i) => run + i * 65536),
      run + 20 * 65536,
      run + 20 * 65536 + 50,
    ]);
    expect(entries.map((e) => e.offset)).toEqual(stored.slice(1, 22).map((e) => e.offset));
    const pack = await store.readRange(packKey(builder.packId), 0, run + 20 * 65536 + 50 + few.length);
    expect(pack.subarray(16, 116).equals(small)).toBe(true);
    expect(pack.subarray(116, run).every((byte) => byte === 0)).toBe(true);
    for (const [i, chunk] of raw.entries()) {
      expect(pack.subarray(run + i * 65536, run + (i + 1) * 65536).equals(chunk)).toBe(true);
    }
    expect(pack.subarray(run + 20 * 65536, run + 20 * 65536 + 50).equals(tail)).toBe(true);
    expect(pack.subarray(run + 20 * 65536 + 50).equals(few)).toBe(true);
  });

  it('turns extents into aligned batches of chunk indexes', () => {
    const size = 10 * 65536 + 5;
    expect(
      normalizeExtents(
        [
          { offset: 10, length: 5 },
          { offset: 0, length: 12 },
          { offset: 100, length: 0 },
        ],
        size,
      ),
    ).toEqual([{ offset: 0, length: 15 }]);
    const ranges = chunkRangesOf(
      [
        { offset: 65536 - 1, length: 2 },
        { offset: 5 * 65536, length: 10 * 65536 },
      ],
      65536,
      size,
    );
    expect(ranges).toEqual([
      { start: 0, end: 2 },
      { start: 5, end: 11 },
    ]);
    // Cut at multiples of 4; pieces share a batch while they fit.
    expect([...batchesOf(ranges, 4)]).toEqual([
      [{ start: 0, end: 2 }],
      [{ start: 5, end: 8 }],
      [{ start: 8, end: 11 }],
    ]);
    expect([...batchesOf(ranges, 8)]).toEqual([
      [
        { start: 0, end: 2 },
        { start: 5, end: 11 },
      ],
    ]);
    // Scattered single chunks (an incremental's small writes): 3 batches, not 10.
    const scattered = Array.from({ length: 10 }, (_, i) => ({ start: i * 100, end: i * 100 + 1 }));
    expect([...batchesOf(scattered, 4)].map((b) => b.map((r) => r.start))).toEqual([
      [0, 100, 200, 300],
      [400, 500, 600, 700],
      [800, 900],
    ]);
  });
});
