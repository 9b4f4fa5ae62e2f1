import type { pino } from 'pino';
import { after, handled, InFlight, Semaphore, settled } from './concurrency.js';
import { BLOB_OVERHEAD } from './crypto.js';
import { abortError, ManifestNotFoundError, throwIfAborted } from './errors.js';
import { batchesOf, type ChunkRange, chunkRangesOf, rangesLength, unionRanges } from './extents.js';
import { ManifestCorruptError, ManifestCursor, ManifestReader, ManifestWriter } from './manifest.js';
import { PackBuilder, type PackEntry } from './pack.js';
import { ParentFill, type PartialChunk } from './parent-fill.js';
import type { RepositoryHandle } from './repository.js';
import type { WarmPacks } from './restore-warm-up.js';
import type { BackupInput, BackupOutput, Extent } from './types.js';
import type { BufferPool, WorkerPool } from './worker-pool.js';

/**
 * Chunks per batch, in bytes: large reads (aligned to this size), one worker task and one index
 * query each. Small ranges share a batch.
 */
export const BATCH_BYTES = 8 * 1024 * 1024;
/** A pack is sealed before it would grow past this (but for up to 4 KiB of padding, PackBuilder.append). */
export const PACK_TARGET_BYTES = 16 * 1024 * 1024;
/** Sealed packs whose fsync + index insert may still be running while the next one fills. */
const MAX_PENDING_SEALS = 2;

export interface EngineContext {
  pool: WorkerPool;
  buffers: BufferPool;
  logger?: pino.Logger;
  metrics?: { bytesRead: { inc(n: number): void }; bytesStored: { inc(n: number): void } };
  compressionLevel: number;
  /** GC: temporary objects older than this are removed (unless the call says otherwise). */
  tempObjectsMaxAgeMs?: number;
  /** Packs read into the page cache ahead of a restore (restore-warm-up.ts), read from there by restore.ts. */
  warmPacks: WarmPacks;
}

interface Hashed {
  /** The batch's data (a buffer of ctx.buffers). */
  buffer: SharedArrayBuffer;
  /** Per chunk: its id, or null when all zeros. */
  ids: Array<string | null>;
}

interface Lookup {
  /** Ids asked of the index (those of the batch not pending at the time). */
  asked: Set<string>;
  /** The asked ids the index knew. */
  known: Set<string>;
  /** The sink's index generation when the batch entered the pipeline (before it was asked). */
  generation: number;
}

interface Decision {
  hashed: Hashed;
  /** Positions in the batch of the chunks to store (first use of a chunk the repository lacks). */
  store: number[];
}

/**
 * One backup: plan the chunks to read (changed extents of an incremental, else the allocated
 * extents), then a bounded, ordered pipeline per batch: read → hash + zero-check (worker) →
 * dedup against the index (in order) → compress new chunks (worker) → append to a pack (in order).
 * The manifest is written alongside (merging the parent's entries in index order) and committed last.
 */
export async function runBackup(
  ctx: EngineContext,
  repo: RepositoryHandle,
  input: BackupInput,
): Promise<BackupOutput> {
  const { source, signal } = input;
  throwIfAborted(signal);
  const started = Date.now();
  const chunkSize = repo.chunkSize;
  const size = source.sizeBytes;
  const totalChunks = Math.ceil(size / chunkSize);
  const batchChunks = Math.max(1, Math.floor(BATCH_BYTES / chunkSize));

  let parent: ManifestReader | null = null;
  let ranges: ChunkRange[] | null = null;
  let changedExtents: Extent[] | null = null;
  if (input.parent?.snapshotId) {
    const changed = await source.changedSince(input.parent.snapshotId, input.parent.backupId);
    if (changed) {
      parent = await openParent(repo, input, ctx.logger);
      if (parent) {
        changedExtents = changed;
        ranges = chunkRangesOf(changed, chunkSize, size);
        const parentSize = parent.header.sizeBytes;
        if (parentSize !== size) {
          // Resized: the chunks at the old and the new end may have changed length (and content).
          const ends = [Math.ceil(parentSize / chunkSize) - 1, totalChunks - 1]
            .filter((i) => i >= 0 && i < totalChunks)
            .map((i) => ({ start: i, end: i + 1 }));
          ranges = unionRanges(ranges, ends);
        }
      }
    }
  }
  const incremental = ranges !== null;
  if (ranges === null) ranges = chunkRangesOf(await source.dataExtents(), chunkSize, size);
  // A source that reads only the changed bytes (rbd): the rest of each chunk is the parent's.
  const fill =
    incremental && source.readsChangedOnly && changedExtents
      ? await ParentFill.open(ctx, repo, {
          parentId: input.parent!.backupId,
          changed: changedExtents,
          chunkSize,
          size,
          batchChunks,
        })
      : null;

  let totalBytes = 0;
  for (const r of ranges) totalBytes += Math.min(r.end * chunkSize, size) - r.start * chunkSize;
  ctx.logger?.debug(
    { backupId: input.backupId, incremental, chunks: rangesLength(ranges), totalBytes },
    'backup: plan',
  );

  const manifest = await ManifestWriter.create(
    repo.store,
    {
      backupId: input.backupId,
      volumeId: input.volumeId,
      sizeBytes: size,
      chunkSize,
      createdAt: new Date().toISOString(),
      parentBackupId: parent ? (input.parent?.backupId ?? null) : null,
      ...(input.record ? { record: input.record } : {}),
    },
    repo.crypto,
  );
  const cursor = parent ? new ManifestCursor(parent) : null;
  const sink = new PackSink(ctx, repo);
  const pending = sink.pending;

  let readBytes = 0;
  let doneBytes = 0;
  let failure: unknown = null;
  const windowSize = ctx.pool.threads * 2 + 2;
  const window = new Semaphore(windowSize);
  // Batch buffers (recycled, shared with the workers) circulate: at most `windowSize` are out at once.
  // Encrypted, each stored chunk grows by BLOB_OVERHEAD: the data is read `base` bytes into the
  // buffer, so that blobs compressed and sealed in place never overtake the chunks still to come.
  const crypto = repo.crypto;
  const base = crypto ? batchChunks * BLOB_OVERHEAD : 0;
  const batchBytes = base + batchChunks * chunkSize;
  const buffers = ctx.buffers;
  const inFlight = new InFlight();
  let previousDecision: Promise<unknown> = Promise.resolve();
  let previousAppend: Promise<unknown> = Promise.resolve();
  const onAbort = () => {
    failure ??= abortError(signal!);
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  /**
   * Asks the index about a batch's chunks as soon as they are hashed, in parallel with the batches
   * before it: only the decisions themselves run in order. Chunks pending at the time are not asked
   * (this backup stores them already).
   */
  const lookUp = async (hashed: Hashed, generation: number): Promise<Lookup> => {
    const asked = new Set<string>();
    for (const id of hashed.ids) if (id !== null && !pending.has(id)) asked.add(id);
    const known = asked.size > 0 ? await repo.index.existing([...asked]) : new Set<string>();
    return { asked, known, generation };
  };

  const decide = async (batch: ChunkRange[], hashed: Hashed, lookup: Lookup): Promise<Decision> => {
    if (failure) throw failure;
    // A chunk is stored when the index did not know it and this backup is not storing it already.
    // An id leaves `pending` only once its rows are committed: one not asked (pending then) is
    // pending or indexed now; one asked is stored by this backup since only if it is pending now or
    // was indexed after the lookup's generation. Decided before any await: nothing moves meanwhile.
    const indexedSince = sink.indexedAfter(lookup.generation);
    sink.forgetIndexedUpTo(lookup.generation);
    const store: number[] = [];
    hashed.ids.forEach((id, i) => {
      if (id === null) return;
      if (lookup.asked.has(id) && !lookup.known.has(id) && !pending.has(id) && !indexedSince.has(id)) {
        pending.add(id);
        store.push(i);
      }
    });
    // The manifest, in index order: the parent's entries up to each range, then the range's own.
    let i = 0;
    for (const range of batch) {
      if (cursor) {
        // Parent entries between the previous range and this one were not read: keep them.
        await cursor.takeBefore(range.start, (e) => manifest.add(e.index, e.id));
        await cursor.takeBefore(range.end, () => undefined); // re-read: replaced below
      }
      for (let index = range.start; index < range.end; index++, i++) {
        const id = hashed.ids[i];
        if (id === null || id === undefined) continue; // all zeros: not stored, not in the manifest
        const flushing = manifest.add(index, id);
        if (flushing) await flushing;
      }
    }
    return { hashed, store };
  };

  try {
    for (const batch of batchesOf(ranges, batchChunks)) {
      if (failure) break;
      await window.acquire();
      if (failure) {
        window.release();
        break;
      }
      // The batch's chunks lie back to back in its buffer; only the volume's last one may be short.
      const extents = batch.map((range) => {
        const offset = range.start * chunkSize;
        return { offset, length: Math.min(range.end * chunkSize, size) - offset };
      });
      const length = extents.reduce((sum, e) => sum + e.length, 0);
      const partial: PartialChunk[] = fill ? await fill.plan(batch) : [];
      const hashed = handled(
        (async (): Promise<Hashed> => {
          const buffer = buffers.take(batchBytes);
          try {
            const view = Buffer.from(buffer, base, length);
            let at = 0;
            // Issued in order at once (a stream source wants increasing offsets), then awaited.
            await Promise.all(
              extents.map(({ offset, length }) => {
                const target = view.subarray(at, at + length);
                at += length;
                return source.readInto
                  ? source.readInto(offset, target)
                  : source.read(offset, length).then((data) => target.set(data));
              }),
            );
            if (partial.length > 0) await fill!.apply(partial, view);
            // Bytes taken from the storage: the source's count when it has one (a diff stream).
            const read = source.bytesRead ?? readBytes + length;
            ctx.metrics?.bytesRead.inc(read - readBytes);
            readBytes = read;
            return {
              buffer,
              ids: await ctx.pool.hash(buffer, length, chunkSize, base, crypto?.idKey ?? null),
            };
          } catch (error) {
            buffers.give(buffer);
            throw error;
          }
        })(),
      );
      // Taken as the batch enters, so that it never decreases from one batch to the next.
      const generation = sink.generation;
      const looked = handled(
        hashed.then((h) =>
          lookUp(h, generation).then(
            (lookup) => ({ h, lookup }),
            (error: unknown) => {
              buffers.give(h.buffer);
              throw error;
            },
          ),
        ),
      );
      const decided = handled(
        after(previousDecision, looked, ({ h, lookup }) =>
          decide(batch, h, lookup).catch((error: unknown) => {
            buffers.give(h.buffer);
            throw error;
          }),
        ),
      );
      previousDecision = decided;
      const compressed = handled(
        decided.then(async (d) => {
          if (d.store.length === 0) {
            buffers.give(d.hashed.buffer);
            return null;
          }
          const offsets = d.store.map((i) => base + i * chunkSize);
          const lengths = d.store.map((i) => Math.min(chunkSize, length - i * chunkSize));
          try {
            // In place: the stored blobs end up back to back at the start of the batch's buffer.
            const result = await ctx.pool.compress(
              d.hashed.buffer,
              offsets,
              lengths,
              ctx.compressionLevel,
              crypto ? { ids: d.store.map((i) => d.hashed.ids[i]!), dataKey: crypto.dataKey } : null,
            );
            const entries = d.store.map((i, k) => ({
              id: d.hashed.ids[i]!,
              storedLength: result.stored[k]!,
              rawLength: lengths[k]!,
              flags: result.flags[k]!,
            }));
            return { buffer: d.hashed.buffer, used: result.used, entries };
          } catch (error) {
            buffers.give(d.hashed.buffer);
            throw error;
          }
        }),
      );
      // The buffer (and the batch's place in the window) is free once its blobs are written: they
      // may be written from it in place (PackBuilder.append), after the next batch's are appended.
      let released: Promise<void> = Promise.resolve();
      const appended = handled(
        after(previousAppend, compressed, async (blobs) => {
          if (!blobs) return;
          let written: Promise<void> = Promise.resolve();
          try {
            if (failure) throw failure;
            ({ written } = await sink.append(Buffer.from(blobs.buffer, 0, blobs.used), blobs.entries));
          } finally {
            released = written.then(() => buffers.give(blobs.buffer));
          }
        }),
      );
      previousAppend = appended;
      inFlight.add(
        appended.then(
          () => {
            doneBytes += length;
            input.onProgress?.(doneBytes, totalBytes);
          },
          (error: unknown) => {
            failure ??= error;
          },
        ),
      );
      inFlight.add(
        settled(appended)
          .then(() => released)
          .then(() => window.release()),
      );
    }
    await inFlight.settle();
    if (failure) throw failure;
    if (cursor) {
      await cursor.takeBefore(totalChunks, (e) => manifest.add(e.index, e.id));
      await cursor.drain(); // beyond a shrunken end: dropped; reading on checks the parent's digest
    }
    await sink.finish();
    throwIfAborted(signal);
    await manifest.commit();
  } catch (error) {
    await inFlight.settle();
    await sink.abort();
    await manifest.abort();
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }

  const output: BackupOutput = {
    incremental,
    chunkCount: manifest.entryCount,
    logicalBytes: manifest.logicalBytes,
    newChunks: sink.newChunks,
    storedBytes: sink.storedBytes,
    readBytes,
    sizeBytes: size,
  };
  ctx.logger?.info({ backupId: input.backupId, ...output, ms: Date.now() - started }, 'backup: done');
  return output;
}

async function openParent(
  repo: RepositoryHandle,
  input: BackupInput,
  logger: pino.Logger | undefined,
): Promise<ManifestReader | null> {
  const parentId = input.parent!.backupId;
  try {
    const parent = await ManifestReader.open(repo.store, parentId, repo.crypto);
    if (parent.header.chunkSize !== repo.chunkSize || parent.header.volumeId !== input.volumeId) {
      logger?.warn(
        { parentId },
        'backup: parent manifest is of another volume or chunk size; reading in full',
      );
      return null;
    }
    return parent;
  } catch (error) {
    if (error instanceof ManifestNotFoundError || error instanceof ManifestCorruptError) {
      logger?.warn({ parentId, err: error }, 'backup: parent manifest unusable; reading in full');
      return null;
    }
    throw error;
  }
}

/**
 * Appends new chunks to packs, sealing one whenever it is full; a sealed pack is committed (fsync,
 * rename) and then indexed in the background, at most MAX_PENDING_SEALS at a time.
 */
class PackSink {
  /** Chunks written by this backup and not yet indexed: dedup within the backup. */
  readonly pending = new Set<string>();
  /** Packs of this backup indexed so far; a lookup remembers the number it was asked at. */
  generation = 0;
  /** Chunk ids indexed per generation, kept while an earlier lookup may still be decided on. */
  private indexed: Array<{ generation: number; ids: string[] }> = [];
  newChunks = 0;
  storedBytes = 0;
  private builder: PackBuilder | null = null;
  private seals: Array<Promise<void>> = [];

  constructor(
    private readonly ctx: EngineContext,
    private readonly repo: RepositoryHandle,
  ) {}

  /**
   * The blobs that fit go into the current pack, the rest into the next: a batch (8 MiB) does not
   * start a pack of its own when the current one has room, so packs come out near PACK_TARGET_BYTES
   * (one fsync and one index transaction per 16 MiB, not per batch). Resolves when the next append
   * may come, with `written`, which settles once `data` may be reused.
   */
  async append(data: Buffer, blobs: Array<Omit<PackEntry, 'offset'>>): Promise<{ written: Promise<void> }> {
    const written: Array<Promise<void>> = [];
    let from = 0;
    let at = 0;
    while (from < blobs.length) {
      this.builder ??= await PackBuilder.create(this.repo.store, this.repo.crypto);
      const room = PACK_TARGET_BYTES - this.builder.size;
      let to = from;
      let bytes = 0;
      while (to < blobs.length && bytes + blobs[to]!.storedLength <= room) bytes += blobs[to++]!.storedLength;
      if (to === from && this.builder.entries.length > 0) {
        await this.seal();
        continue;
      }
      if (to === from) bytes += blobs[to++]!.storedLength; // larger than a whole pack: alone
      written.push((await this.builder.append(data.subarray(at, at + bytes), blobs.slice(from, to))).written);
      from = to;
      at += bytes;
      if (from < blobs.length) await this.seal();
    }
    this.newChunks += blobs.length;
    return { written: settled(Promise.all(written)) };
  }

  private async seal(): Promise<void> {
    const builder = this.builder;
    this.builder = null;
    if (!builder) return;
    while (this.seals.length >= MAX_PENDING_SEALS) await this.seals.shift();
    this.seals.push(
      handled(
        (async () => {
          const size = await builder.seal();
          await this.repo.index.addPack(builder.packId, size, builder.entries);
          this.generation += 1;
          this.indexed.push({ generation: this.generation, ids: builder.entries.map((entry) => entry.id) });
          for (const entry of builder.entries) this.pending.delete(entry.id);
          this.storedBytes += size;
          this.ctx.metrics?.bytesStored.inc(size);
        })(),
      ),
    );
  }

  /** Ids indexed by this backup after `generation`. */
  indexedAfter(generation: number): Set<string> {
    const ids = new Set<string>();
    for (const entry of this.indexed)
      if (entry.generation > generation) for (const id of entry.ids) ids.add(id);
    return ids;
  }

  /** Lookups are decided in order: none still to decide was asked before `generation`. */
  forgetIndexedUpTo(generation: number): void {
    while (this.indexed.length > 0 && this.indexed[0]!.generation <= generation) this.indexed.shift();
  }

  async finish(): Promise<void> {
    await this.seal();
    while (this.seals.length > 0) await this.seals.shift();
  }

  async abort(): Promise<void> {
    const builder = this.builder;
    this.builder = null;
    await builder?.abort();
    await Promise.allSettled(this.seals);
    this.seals = [];
  }
}
