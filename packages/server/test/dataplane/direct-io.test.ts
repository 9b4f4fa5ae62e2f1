import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { allocateShared, isDirectIoReady } from '../../src/dataplane/direct-io.js';
import { createFileStorageDriver } from '../../src/dataplane/index.js';

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

describe('direct I/O of the file driver’s restores', () => {
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
});
