import { Piscina } from 'piscina';
import { allocateShared } from './direct-io.js';

export interface BlobToDecode {
  /** Offset in the buffer handed to decode(). */
  offset: number;
  storedLength: number;
  rawLength: number;
  flags: number;
  id: string;
}

/**
 * The CPU-bound kernels on worker threads (piscina). Bulk data is passed in SharedArrayBuffers (see
 * BufferPool): workers read and write them in place, so nothing is copied or transferred and
 * the main thread's garbage collector never sees multi-MiB buffers come and go.
 */
export class WorkerPool {
  private readonly pool: Piscina;

  constructor(threads: number) {
    this.pool = new Piscina({
      filename: new URL('./worker.mjs', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      // Not the parent's loaders (tsx): worker.mjs is plain JavaScript, and with them a thread took
      // ~220 ms instead of ~60 ms to start.
      execArgv: [],
      // Callers bound their own tasks in flight (windows of batches).
      maxQueue: Number.POSITIVE_INFINITY,
    });
  }

  get threads(): number {
    return this.pool.options.maxThreads;
  }

  /**
   * SHA-256 (hex; HMAC-SHA-256 with `idKey`) and zero-check of each chunk in the `length` bytes from
   * `base`: null for all-zero chunks.
   */
  async hash(
    buffer: SharedArrayBuffer,
    length: number,
    chunkSize: number,
    base = 0,
    idKey: Uint8Array | null = null,
  ): Promise<Array<string | null>> {
    const result = (await this.pool.run({ buffer, length, chunkSize, base, idKey }, { name: 'hash' })) as {
      digests: Uint8Array;
      zero: Uint8Array;
    };
    const digests = Buffer.from(result.digests.buffer, result.digests.byteOffset, result.digests.byteLength);
    const ids: Array<string | null> = new Array(result.zero.length);
    for (let i = 0; i < ids.length; i++) {
      ids[i] = result.zero[i] ? null : digests.toString('hex', i * 32, i * 32 + 32);
    }
    return ids;
  }

  /**
   * zstd of the given slices of `buffer` (increasing offsets), stored back to back from the start of
   * `buffer` (in place: the input is consumed); chunks that do not shrink, or look incompressible
   * (worker.mjs), are stored raw. With `encrypt` each stored chunk is sealed with AES-256-GCM
   * (BLOB_OVERHEAD bytes more per chunk: the first slice must start at least that many bytes per
   * slice into `buffer`).
   */
  async compress(
    buffer: SharedArrayBuffer,
    offsets: number[],
    lengths: number[],
    level: number,
    encrypt: { ids: string[]; dataKey: Uint8Array } | null = null,
  ): Promise<{ used: number; stored: number[]; flags: number[] }> {
    return (await this.pool.run(
      { buffer, offsets, lengths, level, ids: encrypt?.ids ?? null, dataKey: encrypt?.dataKey ?? null },
      { name: 'compress' },
    )) as {
      used: number;
      stored: number[];
      flags: number[];
    };
  }

  /**
   * Decompresses (and, with `keys`, decrypts) the blobs lying in `buffer` into `out` (back to back;
   * as large as their raw lengths together) and checks their digests. Per blob: `at`, the offset of
   * its data in `out`, or -1 when it lies in `buffer` as stored (raw unencrypted blobs are not
   * copied unless `copyRaw`: then every blob's data ends up in `out`); `errors`, null or why it is
   * damaged.
   */
  async decode(
    buffer: SharedArrayBuffer,
    out: SharedArrayBuffer,
    blobs: BlobToDecode[],
    keys: { idKey: Uint8Array; dataKey: Uint8Array } | null = null,
    copyRaw = false,
  ): Promise<{ errors: Array<string | null>; at: number[] }> {
    return (await this.pool.run(
      { buffer, out, blobs, idKey: keys?.idKey ?? null, dataKey: keys?.dataKey ?? null, copyRaw },
      { name: 'decompress' },
    )) as {
      errors: Array<string | null>;
      at: number[];
    };
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}

/**
 * Recycled SharedArrayBuffers, by size, for the whole data plane. Allocating fresh multi-MiB
 * buffers per batch (and moving them between threads) kept the garbage collector busy and let RSS
 * grow by hundreds of MiB; operations bound how many they hold at once, and at most `keepPerSize`
 * idle ones of each size are kept.
 */
export class BufferPool {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  constructor(private readonly keepPerSize: number) {}

  take(size: number): SharedArrayBuffer {
    return this.free.get(size)?.pop() ?? allocateShared(size);
  }

  give(buffer: SharedArrayBuffer | null | undefined): void {
    if (!buffer) return;
    let list = this.free.get(buffer.byteLength);
    if (!list) {
      list = [];
      this.free.set(buffer.byteLength, list);
    }
    if (list.length < this.keepPerSize) list.push(buffer);
  }

  /** Keeps at most `keep` idle buffers of each size (the others are left to the garbage collector). */
  trim(keep = 0): void {
    for (const list of this.free.values()) list.length = Math.min(list.length, keep);
  }
}
