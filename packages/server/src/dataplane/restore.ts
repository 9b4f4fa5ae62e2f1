import type { EngineContext } from './backup.js';
import type { ChunkLocation } from './chunk-index.js';
import { InFlight, Semaphore } from './concurrency.js';
import { allocateShared, DIRECT_IO_ALIGNMENT } from './direct-io.js';
import { abortError, DataIntegrityError, throwIfAborted } from './errors.js';
import { ManifestCorruptError, type ManifestEntry, ManifestReader } from './manifest.js';
import { ObjectNotFoundError } from './object-store.js';
import { blobFlagsOf, packKey } from './pack.js';
import type { RepositoryHandle } from './repository.js';
import type { RestoreInput, VerifyInput, VerifyOutput } from './types.js';

/** Raw bytes of the chunks of one batch of manifest entries (and the most one read of a pack spans). */
const BATCH_RAW_BYTES = 8 * 1024 * 1024;
/** Blobs of one pack closer than this are read together. */
export const MAX_READ_GAP = 256 * 1024;
const EMPTY = new SharedArrayBuffer(0);
/** Verified chunks that recur (used more than once in a batch) are kept for later batches. */
const RECENT_CHUNKS_BYTES = 16 * 1024 * 1024;

interface Damage {
  chunkId: string;
  packId?: string;
  reason: string;
}

/** A verified chunk's data and the indexes of the batch that use it. */
interface Piece {
  data: Buffer;
  indexes: number[];
}

interface ChunkSink {
  /** Verified chunks; their data is only valid until the returned promise settles. */
  chunks(pieces: Piece[]): Promise<void>;
  damaged(damage: Damage): void;
  batchDone(entries: ManifestEntry[]): void;
}

/** Chunks recently verified, by id, least recently used first out (bounded by bytes). */
class RecentChunks {
  private readonly map = new Map<string, { data: Buffer; size: number }>();
  private bytes = 0;
  constructor(
    private readonly capacity: number,
    /** Keep a copy of the data (restore); otherwise only remember that the chunk is sound (verify). */
    private readonly keepData: boolean,
  ) {}

  get(id: string): Buffer | undefined {
    const entry = this.map.get(id);
    if (!entry) return undefined;
    this.map.delete(id);
    this.map.set(id, entry);
    return entry.data;
  }

  add(id: string, data: Buffer): void {
    if (this.map.has(id)) return;
    // A copy in page-aligned memory where it can be (direct-io.ts): written again later, it
    // can still go to the disk without the page cache.
    const copy = this.keepData ? Buffer.from(allocateShared(data.length)) : Buffer.alloc(0);
    if (this.keepData) copy.set(data);
    this.map.set(id, { data: copy, size: data.length });
    this.bytes += data.length;
    for (const [oldId, old] of this.map) {
      if (this.bytes <= this.capacity) break;
      this.map.delete(oldId);
      this.bytes -= old.size;
    }
  }
}

/**
 * Streams a backup's manifest and reads every chunk it references: locations in batches, blobs
 * grouped by pack in offset order (few large reads into recycled buffers), decompress + SHA-256
 * check on workers, a bounded window of batches in flight. Chunks that recur (repetitive data) are
 * read and checked once while they stay among the recent ones.
 */
async function readBackup(
  ctx: EngineContext,
  repo: RepositoryHandle,
  reader: ManifestReader,
  sink: ChunkSink,
  options: { signal: AbortSignal | undefined; keepData: boolean; alignedData: boolean },
): Promise<void> {
  const { chunkSize, sizeBytes } = reader.header;
  const entriesPerBatch = Math.max(1, Math.floor(BATCH_RAW_BYTES / chunkSize));
  const spanBytes = Math.max(BATCH_RAW_BYTES, 2 * chunkSize);
  const rawBytes = entriesPerBatch * chunkSize;
  // Room for a read widened to block boundaries (readRangeDirect).
  const spanLimit = spanBytes - 2 * DIRECT_IO_ALIGNMENT;
  // A batch keeps its place until its writes are done. With two per worker, batches whose chunks
  // must be read and checked queued behind those served from `recent` (repetitive data) and the
  // disk sat idle meanwhile (40-100 ms per 1 GiB restore). As many as a backup's window: the
  // pooled buffers are shared.
  const window = new Semaphore(ctx.pool.threads * 2 + 2);
  const buffers = ctx.buffers;
  const recent = new RecentChunks(RECENT_CHUNKS_BYTES, options.keepData);
  const inFlight = new InFlight();
  const { signal } = options;
  const encrypted = repo.crypto !== null;
  let failure: unknown = null;

  const readSpan = async (span: ChunkLocation[], uses: Map<string, number[]>) => {
    const first = span[0]!;
    const last = span[span.length - 1]!;
    const start = first.offset;
    const length = last.offset + last.storedLength - start;
    const buffer = buffers.take(spanBytes);
    let bufferHeld = true;
    // Raw blobs are checked and written where they were read (at a pack's arbitrary offsets), unless
    // the target wants aligned data: room for decompressed (and decrypted) ones only, or for all.
    const out =
      encrypted || options.alignedData || span.some((loc) => loc.storedLength < loc.rawLength)
        ? buffers.take(rawBytes)
        : null;
    // Where the span's first byte is in `buffer`: past 0 when read from a block boundary (O_DIRECT).
    let shift = 0;
    try {
      try {
        const key = packKey(first.packId);
        if (
          repo.store.readRangeDirect &&
          !ctx.warmPacks.has(repo.id, first.packId) &&
          length + 2 * DIRECT_IO_ALIGNMENT <= buffer.byteLength
        ) {
          shift = await repo.store.readRangeDirect(key, start, length, buffer);
        } else {
          await repo.store.readRangeInto(key, start, Buffer.from(buffer, 0, length));
        }
      } catch (error) {
        const reason =
          error instanceof ObjectNotFoundError
            ? `pack ${first.packId} is missing`
            : `pack ${first.packId} unreadable: ${(error as Error).message}`;
        for (const loc of span) sink.damaged({ chunkId: loc.id, packId: loc.packId, reason });
        return;
      }
      const decoded = await ctx.pool.decode(
        buffer,
        out ?? EMPTY,
        span.map((loc) => ({
          offset: loc.offset - start + shift,
          storedLength: loc.storedLength,
          rawLength: loc.rawLength,
          flags: blobFlagsOf(loc.storedLength, loc.rawLength, encrypted),
          id: loc.id,
        })),
        repo.crypto?.workerKeys ?? null,
        options.alignedData,
      );
      if (options.alignedData) {
        // Every chunk is in `out` now: the read buffer can serve another span while this one is written.
        buffers.give(buffer);
        bufferHeld = false;
      }
      const pieces: Piece[] = [];
      span.forEach((loc, i) => {
        const error = decoded.errors[i];
        if (error) {
          sink.damaged({ chunkId: loc.id, packId: loc.packId, reason: error });
          return;
        }
        const at = decoded.at[i]!;
        const data =
          at < 0 || !out
            ? Buffer.from(buffer, loc.offset - start + shift, loc.rawLength) // raw, not copied: !alignedData
            : Buffer.from(out, at, loc.rawLength);
        const indexes = uses.get(loc.id)!;
        if (indexes.length > 1) recent.add(loc.id, data);
        pieces.push({ data, indexes });
      });
      await sink.chunks(pieces);
    } finally {
      if (bufferHeld) buffers.give(buffer);
      buffers.give(out);
    }
  };

  const processBatch = async (entries: ManifestEntry[]) => {
    const uses = new Map<string, number[]>();
    for (const e of entries) {
      const list = uses.get(e.id);
      if (list) list.push(e.index);
      else uses.set(e.id, [e.index]);
    }
    const known: Piece[] = [];
    const toRead: string[] = [];
    for (const [id, indexes] of uses) {
      const data = recent.get(id);
      if (data) known.push({ data, indexes });
      else toRead.push(id);
    }
    if (known.length > 0) await sink.chunks(known);
    const locations = toRead.length > 0 ? await repo.index.locate(toRead) : new Map<string, ChunkLocation>();
    const byPack = new Map<string, ChunkLocation[]>();
    for (const id of toRead) {
      const indexes = uses.get(id)!;
      const location = locations.get(id);
      const expected = Math.min(chunkSize, sizeBytes - indexes[0]! * chunkSize);
      if (!location) {
        sink.damaged({ chunkId: id, reason: 'missing: not in the repository index' });
      } else if (location.rawLength !== expected || location.storedLength > spanBytes) {
        sink.damaged({
          chunkId: id,
          packId: location.packId,
          reason: `the index records ${location.rawLength} raw / ${location.storedLength} stored bytes; the manifest needs ${expected} raw`,
        });
      } else {
        const list = byPack.get(location.packId);
        if (list) list.push(location);
        else byPack.set(location.packId, [location]);
      }
    }
    // One read per run of nearby blobs of a pack, one after the other (the window gives parallelism).
    for (const list of byPack.values()) {
      list.sort((a, b) => a.offset - b.offset);
      let span: ChunkLocation[] = [];
      for (const loc of list) {
        const first = span[0];
        const last = span[span.length - 1];
        if (
          first &&
          last &&
          (loc.offset - (last.offset + last.storedLength) > MAX_READ_GAP ||
            loc.offset + loc.storedLength - first.offset > spanLimit)
        ) {
          await readSpan(span, uses);
          span = [];
        }
        span.push(loc);
      }
      if (span.length > 0) await readSpan(span, uses);
    }
    sink.batchDone(entries);
  };

  const onAbort = () => {
    failure ??= abortError(signal!);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const entries of reader.batches(entriesPerBatch)) {
      if (failure) break;
      await window.acquire();
      if (failure) {
        window.release();
        break;
      }
      inFlight.add(
        processBatch(entries)
          .catch((error: unknown) => {
            failure ??= error;
          })
          .finally(() => window.release()),
      );
    }
  } catch (error) {
    failure ??= error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await inFlight.settle();
  if (failure) throw failure;
  throwIfAborted(signal);
}

export async function runRestore(
  ctx: EngineContext,
  repo: RepositoryHandle,
  input: RestoreInput,
): Promise<{ bytesWritten: number }> {
  throwIfAborted(input.signal);
  let reader: ManifestReader;
  try {
    reader = await ManifestReader.open(repo.store, input.backupId, repo.crypto);
  } catch (error) {
    if (error instanceof ManifestCorruptError) {
      throw new DataIntegrityError(`backup ${input.backupId}: ${error.message}`);
    }
    throw error;
  }
  const { chunkSize, sizeBytes } = reader.header;
  const total = reader.logicalBytes;
  const maxWrite = Math.max(BATCH_RAW_BYTES, chunkSize);
  let bytesWritten = 0;
  let done = 0;

  /**
   * One write per run of consecutive chunks: views of one buffer as they are; others handed to the
   * target's writev when it has one, gathered into one buffer otherwise.
   */
  const writeRun = async (run: Array<{ index: number; data: Buffer }>) => {
    const first = run[0]!;
    let length = 0;
    let contiguous = true;
    for (const [i, w] of run.entries()) {
      if (i > 0) {
        const prev = run[i - 1]!.data;
        contiguous &&= w.data.buffer === prev.buffer && w.data.byteOffset === prev.byteOffset + prev.length;
      }
      length += w.data.length;
    }
    bytesWritten += length;
    const offset = first.index * chunkSize;
    if (contiguous) {
      await input.target.write(offset, Buffer.from(first.data.buffer, first.data.byteOffset, length));
      return;
    }
    if (input.target.writev) {
      await input.target.writev(
        offset,
        run.map((w) => w.data),
      );
      return;
    }
    const gather = ctx.buffers.take(maxWrite);
    try {
      const view = Buffer.from(gather, 0, length);
      let at = 0;
      for (const w of run) at += w.data.copy(view, at);
      await input.target.write(offset, view);
    } finally {
      ctx.buffers.give(gather);
    }
  };

  try {
    await readBackup(
      ctx,
      repo,
      reader,
      {
        async chunks(pieces) {
          const writes: Array<{ index: number; data: Buffer }> = [];
          for (const { data, indexes } of pieces) for (const index of indexes) writes.push({ index, data });
          writes.sort((a, b) => a.index - b.index);
          const calls: Array<Promise<void>> = [];
          let run: Array<{ index: number; data: Buffer }> = [];
          let runBytes = 0;
          for (const w of writes) {
            const last = run[run.length - 1];
            if (last && (w.index !== last.index + 1 || runBytes + w.data.length > maxWrite)) {
              calls.push(writeRun(run));
              run = [];
              runBytes = 0;
            }
            run.push(w);
            runBytes += w.data.length;
          }
          if (run.length > 0) calls.push(writeRun(run));
          await Promise.all(calls);
        },
        damaged(damage) {
          throw new DataIntegrityError(
            `backup ${input.backupId}: chunk ${damage.chunkId}${damage.packId ? ` in pack ${damage.packId}` : ''} is damaged: ${damage.reason}`,
            damage.chunkId,
            damage.packId,
          );
        },
        batchDone(entries) {
          for (const e of entries) done += Math.min(chunkSize, sizeBytes - e.index * chunkSize);
          input.onProgress?.(done, total);
        },
      },
      { signal: input.signal, keepData: true, alignedData: input.target.prefersAlignedData === true },
    );
  } catch (error) {
    if (error instanceof ManifestCorruptError) {
      throw new DataIntegrityError(`backup ${input.backupId}: ${error.message}`);
    }
    throw error;
  }
  return { bytesWritten };
}

export async function runVerify(
  ctx: EngineContext,
  repo: RepositoryHandle,
  input: VerifyInput,
): Promise<VerifyOutput> {
  throwIfAborted(input.signal);
  let reader: ManifestReader;
  try {
    reader = await ManifestReader.open(repo.store, input.backupId, repo.crypto);
  } catch (error) {
    if (!(error instanceof ManifestCorruptError)) throw error;
    return { ok: false, checkedChunks: 0, damaged: [{ chunkId: 'manifest', reason: error.message }] };
  }
  const damaged = new Map<string, string>();
  let checkedChunks = 0;
  let done = 0;
  const total = reader.logicalBytes;
  const { chunkSize, sizeBytes } = reader.header;
  try {
    await readBackup(
      ctx,
      repo,
      reader,
      {
        async chunks() {},
        damaged(damage) {
          if (!damaged.has(damage.chunkId)) {
            damaged.set(
              damage.chunkId,
              damage.packId ? `pack ${damage.packId}: ${damage.reason}` : damage.reason,
            );
          }
        },
        batchDone(entries) {
          checkedChunks += entries.length;
          for (const e of entries) done += Math.min(chunkSize, sizeBytes - e.index * chunkSize);
          input.onProgress?.(done, total);
        },
      },
      { signal: input.signal, keepData: false, alignedData: false },
    );
  } catch (error) {
    if (!(error instanceof ManifestCorruptError)) throw error;
    damaged.set('manifest', error.message);
  }
  const list = [...damaged].map(([chunkId, reason]) => ({ chunkId, reason }));
  if (list.length > 0)
    ctx.logger?.warn({ backupId: input.backupId, damaged: list.length }, 'verify: damage found');
  return { ok: list.length === 0, checkedChunks, damaged: list };
}
