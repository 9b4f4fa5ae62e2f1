import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { dataExtentsOf, writeFileAtomic } from './file-driver.js';
import type { Extent } from './types.js';

/**
 * The writer's side of docs/file-volume-layout.md, for tests and benchmarks (the OpenStack simulator
 * has its own): volumes written at offsets with change tracking, snapshots as sparse copies with
 * their frozen trackers.
 */
export class FileVolumeLab {
  constructor(readonly dir: string) {}

  volumePath(volumeId: string): string {
    return path.join(this.dir, `volume-${volumeId}`);
  }

  snapshotPath(snapshotId: string): string {
    return path.join(this.dir, `snapshot-${snapshotId}`);
  }

  /** A new, never-written (all-hole) volume without trackers. */
  async createVolume(volumeId: string, sizeBytes: number): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const fh = await open(this.volumePath(volumeId), 'w');
    try {
      await fh.truncate(sizeBytes);
    } finally {
      await fh.close();
    }
    await rm(`${this.volumePath(volumeId)}.changes.json`, { force: true });
  }

  /** Writes `data` at `offset` and records the extent in every tracker of the volume. */
  async write(volumeId: string, offset: number, data: Buffer): Promise<void> {
    await this.writeMany(volumeId, [{ offset, data }]);
  }

  async writeMany(volumeId: string, writes: Array<{ offset: number; data: Buffer }>): Promise<void> {
    const fh = await open(this.volumePath(volumeId), fsConstants.O_RDWR);
    try {
      for (const { offset, data } of writes) await writeAll(fh, data, offset);
    } finally {
      await fh.close();
    }
    const changes = await this.readVolumeChanges(volumeId);
    for (const key of Object.keys(changes.trackers)) {
      const tracker = changes.trackers[key]!;
      if (tracker === 'all') continue;
      changes.trackers[key] = mergeExtents([
        ...tracker,
        ...writes.map(({ offset, data }) => [offset, data.length] as [number, number]),
      ]);
    }
    if (Object.keys(changes.trackers).length > 0) await this.writeVolumeChanges(volumeId, changes);
  }

  /** Takes snapshot `snapshotId` of the volume: sparse copy, frozen trackers, a new tracker. */
  async snapshot(volumeId: string, snapshotId: string): Promise<void> {
    const target = this.snapshotPath(snapshotId);
    const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`;
    await sparseCopy(this.volumePath(volumeId), tmp);
    await rename(tmp, target);
    const changes = await this.readVolumeChanges(volumeId);
    await writeFileAtomic(
      `${target}.changes.json`,
      JSON.stringify({ volume_id: volumeId, since: changes.trackers }),
    );
    const trackers = { ...changes.trackers, [snapshotId]: [] as Array<[number, number]> };
    const keys = Object.keys(trackers);
    for (const key of keys.slice(0, Math.max(0, keys.length - 32))) delete trackers[key];
    await this.writeVolumeChanges(volumeId, { ...changes, trackers });
  }

  /** Deletes a snapshot's data and changes file; the volume keeps its tracker. */
  async deleteSnapshot(snapshotId: string): Promise<void> {
    await rm(this.snapshotPath(snapshotId), { force: true });
    await rm(`${this.snapshotPath(snapshotId)}.changes.json`, { force: true });
  }

  async readVolumeChanges(
    volumeId: string,
  ): Promise<{ trackers: Record<string, Array<[number, number]> | 'all'> }> {
    try {
      return JSON.parse(await readFile(`${this.volumePath(volumeId)}.changes.json`, 'utf8'));
    } catch {
      return { trackers: {} };
    }
  }

  private async writeVolumeChanges(volumeId: string, changes: object): Promise<void> {
    await writeFileAtomic(`${this.volumePath(volumeId)}.changes.json`, JSON.stringify(changes));
  }
}

export function mergeExtents(extents: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...extents].filter(([, l]) => l > 0).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [offset, length] of sorted) {
    const last = out[out.length - 1];
    if (last && offset <= last[0] + last[1]) last[1] = Math.max(last[1], offset + length - last[0]);
    else out.push([offset, length]);
  }
  return out;
}

/** Copies the data extents of `from` into a new sparse file `to` of the same size. */
export async function sparseCopy(from: string, to: string): Promise<void> {
  const src = await open(from, 'r');
  const dst = await open(to, 'w');
  try {
    const { size } = await src.stat();
    await dst.truncate(size);
    const buffer = Buffer.allocUnsafeSlow(8 * 1024 * 1024);
    for (const extent of await dataExtentsOf(src.fd, size)) {
      for (let pos = extent.offset; pos < extent.offset + extent.length; pos += buffer.length) {
        const length = Math.min(buffer.length, extent.offset + extent.length - pos);
        const { bytesRead } = await src.read(buffer, 0, length, pos);
        await writeAll(dst, buffer.subarray(0, bytesRead), pos);
      }
    }
    await dst.sync();
  } finally {
    await src.close();
    await dst.close();
  }
}

async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

export async function sha256OfFile(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafeSlow(8 * 1024 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

/** A small deterministic PRNG (xorshift32) for reproducible datasets. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const WORDS = (
  'the of and to in is was that for on with as by at from volume backup snapshot cinder nova keystone ' +
  'glance instance server request response error warning info debug service project user token image ' +
  'network port subnet router flavor quota limit status available creating deleting attached detached ' +
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et ' +
  'dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea ' +
  'commodo consequat duis aute irure reprehenderit voluptate velit esse cillum fugiat nulla pariatur'
).split(' ');

/** `length` bytes of log-like text (random words and numbers): compressible, not deduplicable. */
export function textBytes(length: number, random: () => number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  let line = 0;
  while (at < length) {
    let text = `${String(line++).padStart(8, '0')} ${Math.floor(random() * 1e6)}`;
    const words = 6 + Math.floor(random() * 10);
    for (let i = 0; i < words; i++) text += ` ${WORDS[Math.floor(random() * WORDS.length)]}`;
    text += '\n';
    at += out.write(text, at, 'latin1');
  }
  return out;
}

export function randomData(length: number): Buffer {
  const buffer = Buffer.allocUnsafeSlow(length);
  randomFillSync(buffer);
  return buffer;
}

const MiB = 1024 * 1024;

/**
 * The period of the benchmark's repetitive text. restic and borg cut content-defined chunks of ~1 and
 * ~2 MiB with a chunker polynomial (restic: random per repository) or seed of their own. A 1 MiB
 * period held no cut point for 4 of 17 restic repositories tried: their chunks, forced at 8 MiB,
 * fall out of phase from stripe to stripe and the text does not deduplicate (309 instead of 271 MB
 * stored, 4.35 instead of 2.55 s), so restic's time depended on its draw. A 4 MiB period deduplicated
 * for 14 of 15 (272-278 MB) and for borg (273-286 MB; 333 MB with 1 MiB). Longer periods would no
 * longer recur within one 8 MiB restore batch (the restore's cache of recurring chunks keys on that).
 */
const REPETITIVE_TEXT_BLOCK_BYTES = 4 * MiB;

/** The benchmark's repetitive text: `(pos, length)` gives those bytes of its endless repetition. */
export function repetitiveText(seed: number): (pos: number, length: number) => Buffer {
  const block = textBytes(REPETITIVE_TEXT_BLOCK_BYTES, prng(seed));
  return (pos, length) => {
    const out = Buffer.allocUnsafe(length);
    for (let at = 0; at < length; ) at += block.copy(out, at, (pos + at) % block.length);
    return out;
  };
}

/**
 * The benchmark dataset on a volume of `sizeBytes` (1 GiB in the benchmark): per 128 MiB (scaled),
 * 32 MiB random, 32 MiB repetitive text, 64 MiB never written — a quarter random, a quarter text,
 * half holes.
 *
 * `text: 'repetitive'` (the benchmark's) is a block of log-like lines repeated (`repetitiveText`):
 * every 64 KiB chunk of it occurs many times (dedup within one backup, as with real repetitive text
 * such as logs or copies of one file). `text: 'varied'` never repeats (random words and numbers:
 * compresses ~3× but nothing deduplicates) — a harsher variant where zstd's speed on text dominates.
 */
export async function writeBenchmarkDataset(
  lab: FileVolumeLab,
  volumeId: string,
  sizeBytes: number,
  { seed = 1, text = 'repetitive' }: { seed?: number; text?: 'repetitive' | 'varied' } = {},
) {
  const stripe = sizeBytes / 32;
  const random = prng(seed);
  const piece = Math.min(4 * MiB, stripe);
  const textAt =
    text === 'repetitive'
      ? repetitiveText(seed + 1)
      : (_pos: number, length: number) => textBytes(length, random);
  let textPos = 0;
  for (let base = 0; base < sizeBytes; base += 4 * stripe) {
    for (let pos = 0; pos < stripe; pos += piece) {
      const length = Math.min(piece, stripe - pos);
      await lab.writeMany(volumeId, [
        { offset: base + pos, data: randomData(length) },
        { offset: base + stripe + pos, data: textAt(textPos, length) },
      ]);
      textPos += length;
    }
  }
}

/** The 1% change: `count` writes of `length` random bytes at random 4 KiB-aligned offsets. */
export async function writeRandomChanges(
  lab: FileVolumeLab,
  volumeId: string,
  sizeBytes: number,
  { count = 40, length = 256 * 1024, seed = 2 } = {},
): Promise<Extent[]> {
  const random = prng(seed);
  const writes: Array<{ offset: number; data: Buffer }> = [];
  for (let i = 0; i < count; i++) {
    const offset = Math.floor((random() * (sizeBytes - length)) / 4096) * 4096;
    writes.push({ offset, data: randomData(length) });
  }
  await lab.writeMany(volumeId, writes);
  return writes.map((w) => ({ offset: w.offset, length: w.data.length }));
}
