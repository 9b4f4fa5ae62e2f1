import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import fsExt from 'fs-ext';
import { z } from 'zod';
import { DIRECT_IO_ALIGNMENT, DirectWriter, isDirectIoReady, openDirect, writeAll } from './direct-io.js';
import { normalizeExtents } from './extents.js';
import type { Extent, SnapshotReader, StorageDriver, VolumeWriter } from './types.js';

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
/** Copy/zero-detection granularity of rollback (keeps the rolled-back volume sparse). */
const COPY_BUFFER = 8 * 1024 * 1024;
const SPARSE_BLOCK = 64 * 1024;

const extentsSchema = z.union([
  z.literal('all'),
  z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)])),
]);
const snapshotChangesSchema = z.object({
  volume_id: z.string().optional(),
  since: z.record(z.string(), extentsSchema),
});
const volumeChangesSchema = z.looseObject({ trackers: z.record(z.string(), extentsSchema) });

/**
 * The `file` storage driver: volumes and snapshots are (sparse) image files in one directory, as
 * docs/file-volume-layout.md describes; change tracking comes from the writer's `.changes.json` files.
 */
export function createFileStorageDriver(options: { dir: string }): StorageDriver {
  const dir = options.dir;
  const volumePath = (id: string) => path.join(dir, `volume-${safeId(id)}`);
  const snapshotPath = (id: string) => path.join(dir, `snapshot-${safeId(id)}`);

  return {
    kind: 'file',

    async openSnapshot({ volumeId, snapshotId }) {
      const file = snapshotPath(snapshotId);
      const fh = await open(file, 'r');
      const { size } = await fh.stat();
      return new FileSnapshotReader(fh, size, `${file}.changes.json`, volumeId);
    },

    async openForRestore({ volumeId, sizeBytes }) {
      const file = volumePath(volumeId);
      // Made ready while the data plane reads the first chunks (the writer's calls wait for it).
      return new FileVolumeWriter(prepareRestoreTarget(file, sizeBytes), file);
    },

    async rollback({ volumeId, snapshotId }) {
      const file = volumePath(volumeId);
      const snapshot = await open(snapshotPath(snapshotId), 'r');
      try {
        const snapshotSize = (await snapshot.stat()).size;
        await invalidateTrackers(file);
        await ownInode(file);
        const volume = await open(file, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
        try {
          // The volume keeps its size if it was extended after the snapshot (the rest reads as zeros).
          const volumeSize = (await volume.stat()).size;
          await volume.truncate(0);
          await volume.truncate(Math.max(volumeSize, snapshotSize));
          const buffer = Buffer.allocUnsafeSlow(COPY_BUFFER);
          for (const extent of await dataExtentsOf(snapshot.fd, snapshotSize)) {
            for (let pos = extent.offset; pos < extent.offset + extent.length; pos += COPY_BUFFER) {
              const length = Math.min(COPY_BUFFER, extent.offset + extent.length - pos);
              await readFully(snapshot, buffer, length, pos);
              await writeNonZeroRuns(volume, buffer.subarray(0, length), pos);
            }
          }
          await volume.sync();
        } finally {
          await volume.close();
        }
        await invalidateTrackers(file);
      } finally {
        await snapshot.close();
      }
    },
  };
}

class FileSnapshotReader implements SnapshotReader {
  constructor(
    private readonly fh: FileHandle,
    readonly sizeBytes: number,
    private readonly changesFile: string,
    private readonly volumeId: string,
  ) {}

  async changedSince(olderSnapshotId: string): Promise<Extent[] | null> {
    let parsed: z.infer<typeof snapshotChangesSchema>;
    try {
      parsed = snapshotChangesSchema.parse(JSON.parse(await readFile(this.changesFile, 'utf8')));
    } catch {
      return null; // missing or unreadable: unknown
    }
    if (parsed.volume_id !== undefined && parsed.volume_id !== this.volumeId) return null;
    const since = Object.hasOwn(parsed.since, olderSnapshotId) ? parsed.since[olderSnapshotId] : undefined;
    if (since === undefined || since === 'all') return null;
    return normalizeExtents(
      since.map(([offset, length]) => ({ offset, length })),
      this.sizeBytes,
    );
  }

  dataExtents(): Promise<Extent[]> {
    return dataExtentsOf(this.fh.fd, this.sizeBytes);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    // Its own ArrayBuffer (not a pooled slice), so that it can be transferred to a worker thread.
    const buffer = Buffer.allocUnsafeSlow(length);
    await readFully(this.fh, buffer, length, offset);
    return buffer;
  }

  async readInto(offset: number, target: Buffer): Promise<void> {
    await readFully(this.fh, target, target.length, offset);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Written bytes after which a background fdatasync starts (the disk works while we compute). */
const WRITEBACK_BYTES = 64 * 1024 * 1024;

/** Empties a volume's file for a restore and opens it, buffered and O_DIRECT. */
async function prepareRestoreTarget(file: string, sizeBytes: number): Promise<RestoreHandles> {
  // Mark the trackers first: if we die half-way, nobody trusts them for this volume again.
  await invalidateTrackers(file);
  await ownInode(file);
  const fh = await open(file, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
  try {
    await fh.truncate(0);
    await fh.truncate(sizeBytes);
    return { fh, direct: new DirectWriter(await openDirect(file)) };
  } catch (error) {
    await fh.close();
    throw error;
  }
}

interface RestoreHandles {
  fh: FileHandle;
  direct: DirectWriter;
}

/**
 * Restore target. Aligned data (see direct-io.ts) goes through the O_DIRECT handle, the rest
 * through the buffered one: chunks are whole 4 KiB blocks, so the two never share a page (and the
 * kernel keeps them coherent if they did). The final fsync of the file covers both.
 */
class FileVolumeWriter implements VolumeWriter {
  /**
   * Asked before the file is open: aligned data is also written right where O_DIRECT turns out to
   * be refused (through the page cache, as the rest).
   */
  readonly prefersAlignedData = true;
  private closed = false;
  private unsynced = 0;
  private writeback: Promise<void> | null = null;
  constructor(
    private readonly handles: Promise<RestoreHandles>,
    private readonly file: string,
  ) {
    // A failure to prepare is reported by the first call that needs the file, not as unhandled.
    handles.catch(() => {});
  }

  async write(offset: number, data: Buffer): Promise<void> {
    const { fh, direct } = await this.handles;
    if (await writeDirect(direct, fh, offset, [data])) return;
    await writeAll(fh, data, offset);
    this.wrote(fh, data.length);
  }

  async writev(offset: number, data: Buffer[]): Promise<void> {
    const { fh, direct } = await this.handles;
    if (await writeDirect(direct, fh, offset, data)) return;
    let total = 0;
    for (const piece of data) total += piece.length;
    const { bytesWritten } = await fh.writev(data, offset);
    if (bytesWritten < total) {
      // Short write (rare): finish piece by piece.
      let skip = bytesWritten;
      let at = offset + bytesWritten;
      for (const piece of data) {
        if (skip >= piece.length) {
          skip -= piece.length;
          continue;
        }
        await writeAll(fh, piece.subarray(skip), at);
        at += piece.length - skip;
        skip = 0;
      }
    }
    this.wrote(fh, total);
  }

  private wrote(fh: FileHandle, bytes: number): void {
    this.unsynced += bytes;
    if (this.unsynced >= WRITEBACK_BYTES && !this.writeback) {
      this.unsynced = 0;
      // Errors surface in finish(), whose own sync reports them again.
      this.writeback = fh
        .datasync()
        .catch(() => {})
        .finally(() => {
          this.writeback = null;
        });
    }
  }

  async finish(): Promise<void> {
    const { fh } = await this.handles;
    await this.writeback;
    await fh.sync();
    await this.close();
    await invalidateTrackers(this.file);
  }

  async abort(): Promise<void> {
    await this.writeback;
    await this.close();
  }

  private async close() {
    if (this.closed) return;
    this.closed = true;
    const handles = await this.handles.catch(() => null);
    if (!handles) return;
    await handles.direct.close();
    await handles.fh.close();
  }
}

/** Writes `data` through O_DIRECT when all of it is aligned; false (nothing written) otherwise. */
async function writeDirect(
  direct: DirectWriter,
  fh: FileHandle,
  offset: number,
  data: Buffer[],
): Promise<boolean> {
  if (offset % DIRECT_IO_ALIGNMENT !== 0 || !data.every(isDirectIoReady)) return false;
  return direct.write(data, offset, fh);
}

/** Ranges holding data, by SEEK_DATA/SEEK_HOLE (a file system without them reports one extent). */
export async function dataExtentsOf(fd: number, size: number): Promise<Extent[]> {
  const extents: Extent[] = [];
  let pos = 0;
  while (pos < size) {
    let data: number;
    try {
      data = await seek(fd, pos, SEEK_DATA);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENXIO') break; // no data after pos
      throw error;
    }
    if (data >= size) break;
    const hole = Math.min(size, await seek(fd, data, SEEK_HOLE));
    extents.push({ offset: data, length: hole - data });
    pos = hole;
  }
  return extents;
}

function seek(fd: number, offset: number, whence: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fsExt.seek(fd, offset, whence, (error, position) => (error ? reject(error) : resolve(position)));
  });
}

async function readFully(fh: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      buffer.fill(0, done, length); // past the end of the file: zeros
      return;
    }
    done += bytesRead;
  }
}

const ZERO_BLOCK = Buffer.alloc(SPARSE_BLOCK);

/** Writes `data` at `position`, skipping all-zero blocks (they stay holes). */
async function writeNonZeroRuns(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let runStart = -1;
  for (let off = 0; off < data.length; off += SPARSE_BLOCK) {
    const end = Math.min(off + SPARSE_BLOCK, data.length);
    const zero = data.subarray(off, end).equals(ZERO_BLOCK.subarray(0, end - off));
    if (!zero && runStart < 0) runStart = off;
    if (zero && runStart >= 0) {
      await writeAll(fh, data.subarray(runStart, off), position + runStart);
      runStart = -1;
    }
  }
  if (runStart >= 0) await writeAll(fh, data.subarray(runStart), position + runStart);
}

/** Sets every tracker of `volume-<id>.changes.json` to "all" (keeps the other keys); no file, no trackers. */
async function invalidateTrackers(volumeFile: string): Promise<void> {
  const changesFile = `${volumeFile}.changes.json`;
  let text: string;
  try {
    text = await readFile(changesFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  let doc: z.infer<typeof volumeChangesSchema>;
  try {
    doc = volumeChangesSchema.parse(JSON.parse(text));
  } catch {
    // Unreadable already means "unknown" to every reader; rewrite it as a valid, all-unknown file.
    doc = { trackers: {} };
  }
  const trackers: Record<string, 'all'> = {};
  for (const key of Object.keys(doc.trackers)) trackers[key] = 'all';
  await writeFileAtomic(changesFile, JSON.stringify({ ...doc, trackers }));
}

/** `<name>.tmp-<random>`, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (error) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw error;
  }
  await fh.close();
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function safeId(id: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(id) || id === '.' || id === '..')
    throw new Error(`invalid id ${JSON.stringify(id)}`);
  return id;
}

/**
 * A snapshot may share the volume's inode (a hard link made when it was taken; see
 * docs/file-volume-layout.md). Before rewriting the volume in place, give it a private, empty inode
 * of the same size (atomically, by rename), so the snapshot keeps its data.
 */
async function ownInode(file: string): Promise<void> {
  const info = await stat(file).catch(() => null);
  if (!info || info.nlink <= 1) return;
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.truncate(info.size);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}
