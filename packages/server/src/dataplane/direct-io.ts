import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/**
 * I/O past the page cache (O_DIRECT) for the bulk data we write once and rarely read again: the
 * `file` driver's restores, and objects and pack reads of `file://` repositories. Measured here,
 * writing 512 MiB buffered and syncing cost 0.2–1.2 CPU-s, most of it the kernel's copy into freshly
 * allocated page-cache pages; O_DIRECT from the same memory 0.06 CPU-s, at the disk's speed. A
 * backup also no longer pushes other data out of the page cache. The final fsync is still needed
 * (block allocation, the disk's cache). O_DIRECT wants aligned memory, offsets and lengths.
 *
 * JavaScript cannot see an address, and a plain SharedArrayBuffer starts wherever malloc put it
 * (16 bytes past a page here). A shared WebAssembly.Memory is reserved by V8 in whole pages, so its
 * buffer starts on a page: such buffers are remembered here, and a view of one is aligned exactly
 * when its offset and length are multiples of DIRECT_IO_ALIGNMENT.
 */

/** Offsets, lengths and addresses of O_DIRECT transfers are multiples of this (any block device's logical block divides it). */
export const DIRECT_IO_ALIGNMENT = 4096;
const WASM_PAGE = 64 * 1024;
const pageAligned = new WeakSet<SharedArrayBuffer>();
/** The part of WebAssembly used here (typed locally: the ES lib of our tsconfig has no WebAssembly). */
const { Memory } = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: {
        initial: number;
        maximum: number;
        shared: true;
      }) => { buffer: SharedArrayBuffer };
    };
  }
).WebAssembly;

/** A zeroed SharedArrayBuffer of `size` bytes; page-aligned when `size` is a multiple of 64 KiB. */
export function allocateShared(size: number): SharedArrayBuffer {
  if (size > 0 && size % WASM_PAGE === 0) {
    const pages = size / WASM_PAGE;
    const { buffer } = new Memory({ initial: pages, maximum: pages, shared: true });
    pageAligned.add(buffer);
    return buffer;
  }
  return new SharedArrayBuffer(size);
}

/** True when `view` may be written with O_DIRECT: page-aligned memory, aligned start and length. */
export function isDirectIoReady(view: Uint8Array): boolean {
  return (
    view.byteLength % DIRECT_IO_ALIGNMENT === 0 &&
    view.byteOffset % DIRECT_IO_ALIGNMENT === 0 &&
    pageAligned.has(view.buffer as SharedArrayBuffer)
  );
}

/**
 * A file's O_DIRECT handle for writing, given up for good at the first EINVAL (an alignment this
 * device does not take): callers then write the same bytes through the page cache.
 */
export class DirectWriter {
  constructor(private handle: FileHandle | null) {}

  get usable(): boolean {
    return this.handle !== null;
  }

  /**
   * Writes `pieces` (aligned, see isDirectIoReady) back to back at `offset` (aligned). A short write
   * is finished through `buffered`. Returns false, having written nothing, when O_DIRECT is not
   * (or no longer) available.
   */
  async write(pieces: Uint8Array[], offset: number, buffered: FileHandle): Promise<boolean> {
    const handle = this.handle;
    if (!handle) return false;
    let at = offset;
    try {
      for (let i = 0; i < pieces.length; ) {
        const batch = pieces.slice(i, i + IOV_MAX);
        const length = batch.reduce((n, piece) => n + piece.length, 0);
        const { bytesWritten } = await handle.writev(batch, at);
        if (bytesWritten < length) {
          await writeAll(buffered, Buffer.concat(batch).subarray(bytesWritten), at + bytesWritten);
        }
        at += length;
        i += batch.length;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL' || at !== offset) throw error;
      this.handle = null;
      await handle.close().catch(() => {});
      return false;
    }
    return true;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
  }
}

/** writev takes at most this many buffers. */
const IOV_MAX = 1024;

/** Writes all of `data` at `position` (a write may be short). */
export async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * `file` opened with O_DIRECT, or null where the file system refuses it (EINVAL). ENOENT and the
 * like are thrown.
 */
export async function openDirect(file: string, mode: 'write' | 'read' = 'write'): Promise<FileHandle | null> {
  try {
    return await open(
      file,
      (mode === 'read' ? fsConstants.O_RDONLY : fsConstants.O_WRONLY) | fsConstants.O_DIRECT,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return null;
    throw error;
  }
}
