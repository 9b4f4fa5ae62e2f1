import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import fsExt from 'fs-ext';

/**
 * The writer side of docs/file-volume-layout.md: volume and snapshot images as sparse files in one
 * directory, plus the `.changes.json` change-tracking sidecars that the backup service's `file`
 * driver reads for incremental backups.
 */

export const GiB = 1024 ** 3;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const CHUNK = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

/** Sorted, non-overlapping `[offset, length]` pairs, or "all" when the writer does not know. */
export type Extents = Array<[number, number]> | 'all';
/** Per snapshot taken of the volume (newest last), what was written since that snapshot. */
export interface VolumeChanges {
  trackers: Record<string, Extents>;
}
/** Frozen at snapshot time: for each older snapshot, what differs between it and this one. */
export interface SnapshotChanges {
  volume_id: string;
  since: Record<string, Extents>;
}

/** Trackers kept per volume, deleted snapshots' included (they still say what changed since). */
export const MAX_TRACKERS = 32;

/** Union of two extent lists; touching or overlapping ranges are coalesced. */
export function mergeExtents(a: Extents, b: Extents): Extents {
  if (a === 'all' || b === 'all') return 'all';
  const all = [...a, ...b].filter(([, len]) => len > 0).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [off, len] of all) {
    const last = out[out.length - 1];
    if (last && off <= last[0] + last[1]) {
      last[1] = Math.max(last[1], off + len - last[0]);
    } else {
      out.push([off, len]);
    }
  }
  return out;
}

/** The allocated ranges of an open file, found with SEEK_DATA/SEEK_HOLE. */
export function* dataExtents(fd: number, size: number): Generator<[number, number]> {
  let off = 0;
  while (off < size) {
    let start: number;
    try {
      start = fsExt.seekSync(fd, off, SEEK_DATA);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') return; // no data after `off`
      throw err;
    }
    if (start >= size) return;
    let end: number;
    try {
      end = fsExt.seekSync(fd, start, SEEK_HOLE);
    } catch {
      end = size;
    }
    end = Math.min(end, size);
    yield [start, end - start];
    off = end;
  }
}

const tmpName = (path: string) => `${path}.tmp-${randomBytes(6).toString('hex')}`;

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = tmpName(path);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(value));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined; // missing or unreadable: "unknown" for readers
  }
}

/**
 * Copies `src` to `dst` (atomically replaced) as a sparse file of `size` bytes: only the data
 * extents of the source are read, and all-zero chunks are not written, so holes stay holes.
 * (ext4 has no reflink; this is what `cp --sparse=always` does.)
 */
export async function sparseCopy(src: string, dst: string, size: number): Promise<void> {
  const tmp = tmpName(dst);
  const s = await open(src, 'r');
  try {
    const d = await open(tmp, 'w');
    try {
      await d.truncate(size);
      const srcSize = (await s.stat()).size;
      const buf = Buffer.allocUnsafe(CHUNK);
      for (const [off, len] of dataExtents(s.fd, Math.min(srcSize, size))) {
        for (let pos = off; pos < off + len; ) {
          const want = Math.min(CHUNK, off + len - pos);
          const { bytesRead } = await s.read(buf, 0, want, pos);
          if (bytesRead === 0) break;
          const chunk = buf.subarray(0, bytesRead);
          if (!chunk.equals(ZEROS.subarray(0, bytesRead))) await d.write(chunk, 0, bytesRead, pos);
          pos += bytesRead;
        }
      }
      await d.sync();
    } finally {
      await d.close();
    }
  } finally {
    await s.close();
  }
  await rename(tmp, dst);
}

/** A snapshot as a hard link to the volume's file (instant); a copy where links are impossible. */
async function shareInode(volume: string, snapshot: string, size: number): Promise<void> {
  await rm(snapshot, { force: true });
  try {
    await link(volume, snapshot);
  } catch {
    await sparseCopy(volume, snapshot, size);
  }
}

/** Before writing a volume in place: if a snapshot shares its inode, the volume gets its own copy. */
export async function ownInode(file: string): Promise<void> {
  const info = await stat(file);
  if (info.nlink > 1) await sparseCopy(file, file, info.size);
}

/** SHA-256 of a whole file with holes hashed as zeros, reading only the allocated extents. */
export async function sparseSha256(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const hash = createHash('sha256');
    const zeros = (n: number) => {
      for (let left = n; left > 0; left -= CHUNK) hash.update(ZEROS.subarray(0, Math.min(CHUNK, left)));
    };
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    for (const [off, len] of dataExtents(fh.fd, size)) {
      zeros(off - pos);
      for (let p = off; p < off + len; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, off + len - p), p);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        p += bytesRead;
      }
      pos = off + len;
    }
    zeros(size - pos);
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

export class VolumeFiles {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly hashCache = new Map<string, { key: string; sha: string }>();

  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  volumePath = (id: string) => join(this.dir, `volume-${id}`);
  snapshotPath = (id: string) => join(this.dir, `snapshot-${id}`);
  volumeChangesPath = (id: string) => join(this.dir, `volume-${id}.changes.json`);
  snapshotChangesPath = (id: string) => join(this.dir, `snapshot-${id}.changes.json`);

  /** Serialises everything that touches one volume's files (data writes, snapshots, reverts). */
  withLock<T>(volumeId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(volumeId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(volumeId, tail);
    void tail.then(() => {
      if (this.locks.get(volumeId) === tail) this.locks.delete(volumeId);
    });
    return next;
  }

  readVolumeChanges(id: string): Promise<VolumeChanges | undefined> {
    return readJson<VolumeChanges>(this.volumeChangesPath(id));
  }

  readSnapshotChanges(id: string): Promise<SnapshotChanges | undefined> {
    return readJson<SnapshotChanges>(this.snapshotChangesPath(id));
  }

  /** A new empty volume: a hole of exactly size_gb GiB; nothing changed since creation. */
  createBlank(id: string, sizeGb: number): Promise<void> {
    return this.withLock(id, async () => {
      const tmp = tmpName(this.volumePath(id));
      const fh = await open(tmp, 'w');
      try {
        await fh.truncate(sizeGb * GiB);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.volumePath(id));
      await writeJsonAtomic(this.volumeChangesPath(id), { trackers: {} } satisfies VolumeChanges);
    });
  }

  /** A new volume whose content is copied (snapshot, other volume, image): every range may differ. */
  createFromFile(id: string, src: string, sizeGb: number): Promise<void> {
    return this.withLock(id, async () => {
      await sparseCopy(src, this.volumePath(id), sizeGb * GiB);
      await writeJsonAtomic(this.volumeChangesPath(id), { trackers: {} } satisfies VolumeChanges);
    });
  }

  /**
   * Streams `body` into the volume at `offset` (bounded memory) and merges the written range into
   * the volume's changes. Throws RangeError when the data would go past the end.
   */
  write(id: string, offset: number, body: Readable, declaredLength?: number): Promise<number> {
    return this.withLock(id, async () => {
      const path = this.volumePath(id);
      const size = (await stat(path)).size;
      if (offset > size || (declaredLength !== undefined && offset + declaredLength > size)) {
        throw new RangeError(
          `write of ${declaredLength ?? '?'} bytes at ${offset} is past the end (${size})`,
        );
      }
      await ownInode(path);
      const fh = await open(path, 'r+');
      let written = 0;
      const pending: Buffer[] = [];
      let pendingLen = 0;
      const flush = async () => {
        if (pendingLen === 0) return;
        const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
        await fh.write(buf, 0, buf.length, offset + written);
        written += buf.length;
        pending.length = 0;
        pendingLen = 0;
      };
      let overflow = false;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          // Past the end: keep reading (and dropping) the body so the 400 can still be answered.
          if (overflow || offset + written + pendingLen + chunk.length > size) {
            overflow = true;
            continue;
          }
          pending.push(chunk);
          pendingLen += chunk.length;
          if (pendingLen >= CHUNK) await flush();
        }
        await flush();
        await fh.datasync();
        if (overflow) throw new RangeError(`write past the end of the volume (${size} bytes)`);
      } finally {
        await fh.close();
        if (written > 0) await this.recordWrite(id, offset, written);
      }
      return written;
    });
  }

  private async recordWrite(id: string, offset: number, length: number): Promise<void> {
    const changes = await this.readVolumeChanges(id);
    if (!changes?.trackers) return; // unknown stays unknown
    for (const [snapshotId, extents] of Object.entries(changes.trackers)) {
      changes.trackers[snapshotId] = mergeExtents(extents, [[offset, length]]);
    }
    await writeJsonAtomic(this.volumeChangesPath(id), changes);
  }

  readStream(path: string, offset: number, length: number): Readable {
    return createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: 1024 * 1024 });
  }

  /**
   * Snapshot S of V: copy V's data (point in time, holding V's lock), freeze V's trackers as S's
   * `since` (what differs between each older snapshot and S), then start a tracker for S.
   */
  takeSnapshot(volumeId: string, snapshotId: string): Promise<void> {
    return this.withLock(volumeId, async () => {
      const path = this.volumePath(volumeId);
      const size = (await stat(path)).size;
      // Copy-on-write, as RBD does: the snapshot shares the volume's inode until the volume is
      // next written, which first gives the volume a copy of its own (ownInode).
      await shareInode(path, this.snapshotPath(snapshotId), size);
      const changes = await this.readVolumeChanges(volumeId);
      const trackers = changes?.trackers ?? {};
      await writeJsonAtomic(this.snapshotChangesPath(snapshotId), {
        volume_id: volumeId,
        since: trackers,
      } satisfies SnapshotChanges);
      const next = Object.entries({ ...trackers, [snapshotId]: [] as Extents }).slice(-MAX_TRACKERS);
      await writeJsonAtomic(this.volumeChangesPath(volumeId), {
        trackers: Object.fromEntries(next),
      } satisfies VolumeChanges);
    });
  }

  /**
   * Deleting S removes its data and its changes file. V's tracker for S stays: it still says what
   * changed since S was taken, which the next incremental backup after a temporary snapshot needs.
   */
  deleteSnapshot(snapshotId: string, volumeId: string): Promise<void> {
    return this.withLock(volumeId, async () => {
      await rm(this.snapshotPath(snapshotId), { force: true });
      await rm(this.snapshotChangesPath(snapshotId), { force: true });
    });
  }

  /** Revert V to S: V's content is rewritten wholesale, so every tracker becomes "all". */
  revert(volumeId: string, snapshotId: string, sizeGb: number): Promise<void> {
    return this.withLock(volumeId, async () => {
      await sparseCopy(this.snapshotPath(snapshotId), this.volumePath(volumeId), sizeGb * GiB);
      await this.markAllChanged(volumeId);
    });
  }

  private async markAllChanged(volumeId: string) {
    const vc = await this.readVolumeChanges(volumeId);
    const trackers = Object.fromEntries(Object.keys(vc?.trackers ?? {}).map((k) => [k, 'all' as Extents]));
    await writeJsonAtomic(this.volumeChangesPath(volumeId), { trackers } satisfies VolumeChanges);
  }

  /** os-extend: the file grows (a hole at the end); no data changes. */
  extend(volumeId: string, newSizeGb: number): Promise<void> {
    return this.withLock(volumeId, async () => {
      await ownInode(this.volumePath(volumeId));
      const fh = await open(this.volumePath(volumeId), 'r+');
      try {
        await fh.truncate(newSizeGb * GiB);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
  }

  deleteVolume(volumeId: string): Promise<void> {
    return this.withLock(volumeId, async () => {
      await rm(this.volumePath(volumeId), { force: true });
      await rm(this.volumeChangesPath(volumeId), { force: true });
    });
  }

  /** sha256 of a volume or snapshot file, cached while the file is unchanged. */
  async sha256(path: string): Promise<string> {
    const st = await stat(path, { bigint: true });
    const key = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    const cached = this.hashCache.get(path);
    if (cached?.key === key) return cached.sha;
    const sha = await sparseSha256(path);
    this.hashCache.set(path, { key, sha });
    return sha;
  }
}
