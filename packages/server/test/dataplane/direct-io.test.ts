import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { allocateShared, DirectWriter, isDirectIoReady, openDirect } from '../../src/dataplane/direct-io.js';
import { createFileStorageDriver } from '../../src/dataplane/index.js';
import { FileObjectStore, ObjectNotFoundError } from '../../src/dataplane/object-store.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes of `file` in the page cache (util-linux's fincore). */
async function residentBytes(file: string): Promise<number> {
  const { stdout } = await run('fincore', ['--bytes', '--noheadings', '--output', 'RES', file]);
  return Number(stdout.trim());
}

function alignedCopy(data: Buffer): Buffer {
  const view = Buffer.from(allocateShared(data.length));
  data.copy(view);
  return view;
}

/**
 * Writes a mix of aligned and unaligned pieces through a restore target in `dir` and checks the
 * volume holds exactly them. Returns whether the target took O_DIRECT and how much of the volume
 * was in the page cache after it finished.
 */
async function restoreMix(dir: string, volumeId: string) {
  const driver = createFileStorageDriver({ dir });
  const size = 16 * MiB;
  await writeFile(path.join(dir, `volume-${volumeId}`), Buffer.alloc(0));
  const expected = Buffer.alloc(size);
  const target = await driver.openForRestore({ volumeId, sizeBytes: size });
  const prefersAligned = target.prefersAlignedData === true;
  const put = async (offset: number, pieces: Buffer[]) => {
    let at = offset;
    for (const piece of pieces) at += piece.copy(expected, at);
    if (pieces.length === 1) await target.write(offset, pieces[0]!);
    else await target.writev!(offset, pieces);
  };
  // Aligned memory at aligned offsets: 8 MiB in one write, 1 MiB as 16 pieces of 64 KiB.
  await put(0, [alignedCopy(randomBytes(8 * MiB))]);
  await put(
    8 * MiB,
    Array.from({ length: 16 }, () => alignedCopy(randomBytes(64 * KiB))),
  );
  // Not for O_DIRECT: ordinary memory, an aligned buffer at an unaligned offset, a view that starts
  // inside a page, a short length.
  await put(10 * MiB, [randomBytes(64 * KiB)]);
  await put(11 * MiB + 512, [alignedCopy(randomBytes(64 * KiB))]);
  const inside = Buffer.from(allocateShared(128 * KiB)).subarray(100, 100 + 64 * KiB);
  randomBytes(64 * KiB).copy(inside);
  await put(12 * MiB, [inside]);
  await put(13 * MiB, [alignedCopy(randomBytes(64 * KiB)).subarray(0, 1000)]);
  await target.finish();
  const file = path.join(dir, `volume-${volumeId}`);
  const cached = await residentBytes(file); // before reading it back fills the cache
  expect((await readFile(file)).equals(expected)).toBe(true);
  return { prefersAligned, cached };
}

describe('direct I/O: the file driver’s restores, file repositories', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('allocates page-aligned shared memory for sizes of whole 64 KiB pages', () => {
    const buffer = allocateShared(128 * KiB);
    expect(buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(isDirectIoReady(Buffer.from(buffer, 4 * KiB, 64 * KiB))).toBe(true);
    expect(isDirectIoReady(Buffer.from(buffer, 100, 4 * KiB))).toBe(false);
    expect(isDirectIoReady(Buffer.from(buffer, 0, 1000))).toBe(false);
    expect(isDirectIoReady(Buffer.from(allocateShared(100 * KiB)))).toBe(false);
    expect(isDirectIoReady(Buffer.alloc(64 * KiB))).toBe(false);
  });

  it('writes aligned data past the page cache and the rest through it, byte for byte', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'direct-io-'));
    dirs.push(dir);
    const { prefersAligned, cached } = await restoreMix(dir, 'v1');
    // The test machine's temporary directory is on a disk file system (ext4), which takes O_DIRECT.
    expect(prefersAligned).toBe(true);
    // Only the 4 buffered writes (about 200 KiB) may be cached; 9 MiB went to the disk directly.
    expect(cached).toBeGreaterThan(0);
    expect(cached).toBeLessThan(1 * MiB);
  });

  it('writes repository objects past the page cache, whatever their size and the pieces they come in', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'direct-io-store-'));
    dirs.push(root);
    const store = new FileObjectStore(pathToFileURL(root).href, root);
    // 17 MiB + 5: more stages than may be in flight at once.
    const sizes = [0, 100, 4095, 4096, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 123, 17 * MiB + 5];
    for (const [n, size] of sizes.entries()) {
      const data = randomBytes(size);
      const writer = await store.createWriter(`packs/00/object-${n}`);
      // Pieces of uneven sizes, as a pack's appends are.
      for (let at = 0, step = 1; at < size; step = (step * 7 + 3) % (1536 * KiB) || 1) {
        const end = Math.min(size, at + step);
        await writer.write(data.subarray(at, end));
        at = end;
      }
      expect(writer.bytesWritten).toBe(size);
      await writer.commit();
      const file = path.join(root, 'packs', '00', `object-${n}`);
      if (size >= 4 * MiB) expect(await residentBytes(file)).toBeLessThan(size / 2);
      expect((await readFile(file)).equals(data)).toBe(true);
    }
    // Nothing but the objects: no temp file left.
    expect((await readdir(path.join(root, 'packs', '00'))).sort()).toEqual(
      sizes.map((_, n) => `object-${n}`).sort(),
    );
    const aborted = await store.createWriter('packs/00/aborted');
    await aborted.write(randomBytes(5 * MiB));
    await aborted.abort();
    expect(await readdir(path.join(root, 'packs', '00'))).toHaveLength(sizes.length);
  });

  it('reads ranges of repository objects from a block boundary past the page cache', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'direct-io-read-'));
    dirs.push(root);
    const store = new FileObjectStore(pathToFileURL(root).href, root);
    const data = randomBytes(3 * MiB + 777);
    const writer = await store.createWriter('packs/01/object');
    await writer.write(data);
    await writer.commit();
    const into = allocateShared(2 * MiB);
    for (const [offset, length] of [
      [0, 1],
      [0, 1 * MiB],
      [4096, 8192],
      [12_345, 1 * MiB + 1],
      [data.length - 777, 777],
      [data.length - 1, 1],
      [2 * MiB + 4095, 1 * MiB - 3318], // up to the end, from inside a block
    ] as const) {
      const shift = await store.readRangeDirect('packs/01/object', offset, length, into);
      expect(shift).toBe(offset % 4096);
      expect(Buffer.from(into, shift, length).equals(data.subarray(offset, offset + length))).toBe(true);
    }
    await expect(store.readRangeDirect('packs/01/object', data.length - 10, 11, into)).rejects.toThrow(
      /shorter/,
    );
    await expect(store.readRangeDirect('packs/01/missing', 0, 10, into)).rejects.toBeInstanceOf(
      ObjectNotFoundError,
    );
  });

  it('gives O_DIRECT up for good at the first write the kernel refuses (EINVAL), having written nothing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'direct-io-einval-'));
    dirs.push(dir);
    const file = path.join(dir, 'target');
    await writeFile(file, Buffer.alloc(0));
    const buffered = await open(file, 'r+');
    const writer = new DirectWriter(await openDirect(file));
    try {
      expect(writer.usable).toBe(true);
      const block = alignedCopy(randomBytes(64 * KiB));
      expect(isDirectIoReady(block)).toBe(true);
      // At an offset inside a block: O_DIRECT refuses it, nothing is written, the caller writes it.
      expect(await writer.write([block], 100, buffered)).toBe(false);
      expect(writer.usable).toBe(false);
      expect((await stat(file)).size).toBe(0);
      // Dropped for good: even an aligned write is the caller's from now on.
      expect(await writer.write([block], 0, buffered)).toBe(false);
      expect((await stat(file)).size).toBe(0);

      const fresh = new DirectWriter(await openDirect(file));
      expect(await fresh.write([block, block], 64 * KiB, buffered)).toBe(true);
      await fresh.close();
      expect((await readFile(file)).subarray(64 * KiB).equals(Buffer.concat([block, block]))).toBe(true);
    } finally {
      await writer.close();
      await buffered.close();
    }
  });
});
