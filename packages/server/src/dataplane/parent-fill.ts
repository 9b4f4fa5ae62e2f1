import type { EngineContext } from './backup.js';
import { BLOB_OVERHEAD } from './crypto.js';
import { DataIntegrityError } from './errors.js';
import { type ChunkRange, normalizeExtents } from './extents.js';
import { ManifestCursor, ManifestReader } from './manifest.js';
import { blobFlagsOf, packKey } from './pack.js';
import type { RepositoryHandle } from './repository.js';
import type { Extent } from './types.js';

/** A chunk of a batch that the changed extents do not cover whole. */
export interface PartialChunk {
  index: number;
  /** Where the chunk's bytes start in the batch's data. */
  at: number;
  /** Its byte ranges (volume offsets) outside the changed extents: the parent's bytes go there. */
  gaps: Extent[];
  /** The parent backup's chunk at this index; null: zeros (the parent had none there). */
  parentId: string | null;
}

/** Blob reads of one batch in flight at once. */
const READS_IN_FLIGHT = 8;

/**
 * Completes the chunks of an incremental whose source reads only the changed bytes
 * (`SnapshotReader.readsChangedOnly`, the `rbd` driver's export-diff stream): the unchanged bytes of
 * a partly changed chunk are the parent backup's (the base of the diff is the parent's point in
 * time), read from the repository with their digests checked. Batches come in increasing order.
 */
export class ParentFill {
  private extentAt = 0;

  private constructor(
    private readonly ctx: EngineContext,
    private readonly repo: RepositoryHandle,
    private readonly parentId: string,
    private readonly cursor: ManifestCursor,
    private readonly changed: Extent[],
    private readonly chunkSize: number,
    private readonly size: number,
    private readonly batchChunks: number,
  ) {}

  static async open(
    ctx: EngineContext,
    repo: RepositoryHandle,
    options: { parentId: string; changed: Extent[]; chunkSize: number; size: number; batchChunks: number },
  ): Promise<ParentFill> {
    // A reader of its own: the backup's merge of the parent's entries runs at another pace.
    const reader = await ManifestReader.open(repo.store, options.parentId, repo.crypto);
    return new ParentFill(
      ctx,
      repo,
      options.parentId,
      new ManifestCursor(reader),
      normalizeExtents(options.changed, options.size),
      options.chunkSize,
      options.size,
      options.batchChunks,
    );
  }

  /**
   * The partly changed chunks of a batch (its ranges, whose chunks lie back to back in its data), with
   * the parent's chunk at each. Call in batch order.
   */
  async plan(batch: readonly ChunkRange[]): Promise<PartialChunk[]> {
    const partial = new Map<number, PartialChunk>();
    let at = 0;
    for (const range of batch) {
      for (let index = range.start; index < range.end; index++, at += this.chunkSize) {
        const start = index * this.chunkSize;
        const gaps = this.gapsOf(start, Math.min(start + this.chunkSize, this.size));
        if (gaps.length > 0) partial.set(index, { index, at, gaps, parentId: null });
      }
    }
    await this.cursor.takeBefore(batch.at(-1)?.end ?? 0, (entry) => {
      const chunk = partial.get(entry.index);
      if (chunk) chunk.parentId = entry.id;
      return undefined;
    });
    return [...partial.values()];
  }

  /** Writes the parent's bytes into the gaps of `partial` in `view` (the batch's data). */
  async apply(partial: PartialChunk[], view: Buffer): Promise<void> {
    const ids = [...new Set(partial.flatMap((p) => (p.parentId ? [p.parentId] : [])))];
    // A gap's volume offset -> its place in `view`.
    const placeOf = (p: PartialChunk, volumeOffset: number) => p.at + volumeOffset - p.index * this.chunkSize;
    const zeroGaps = (p: PartialChunk, from = 0) => {
      for (const gap of p.gaps) {
        const start = Math.max(gap.offset, p.index * this.chunkSize + from);
        const end = gap.offset + gap.length;
        if (start < end) view.fill(0, placeOf(p, start), placeOf(p, end));
      }
    };
    for (const p of partial) if (!p.parentId) zeroGaps(p);
    if (ids.length === 0) return;
    await this.withChunks(ids, (id, data) => {
      for (const p of partial) {
        if (p.parentId !== id) continue;
        const base = p.index * this.chunkSize;
        for (const gap of p.gaps) {
          const from = gap.offset - base;
          const to = Math.min(from + gap.length, data.length);
          if (to > from) data.copy(view, placeOf(p, gap.offset), from, to);
        }
        if (data.length < this.chunkSize) zeroGaps(p, data.length); // the parent's shorter last chunk
      }
    });
  }

  private gapsOf(start: number, end: number): Extent[] {
    const extents = this.changed;
    while (this.extentAt < extents.length) {
      const e = extents[this.extentAt]!;
      if (e.offset + e.length > start) break;
      this.extentAt++;
    }
    const gaps: Extent[] = [];
    let pos = start;
    for (let i = this.extentAt; i < extents.length && pos < end; i++) {
      const e = extents[i]!;
      if (e.offset >= end) break;
      if (e.offset > pos) gaps.push({ offset: pos, length: e.offset - pos });
      pos = Math.max(pos, e.offset + e.length);
    }
    if (pos < end) gaps.push({ offset: pos, length: end - pos });
    return gaps;
  }

  /** Reads, decodes and checks the parent's chunks `ids`; `use` sees each one's data. */
  private async withChunks(ids: string[], use: (id: string, data: Buffer) => void): Promise<void> {
    const { ctx, repo } = this;
    const locations = await repo.index.locate(ids);
    const encrypted = repo.crypto !== null;
    const slot = this.chunkSize + BLOB_OVERHEAD;
    const input = ctx.buffers.take(this.batchChunks * slot);
    const output = ctx.buffers.take(this.batchChunks * this.chunkSize);
    try {
      const blobs = ids.map((id, i) => {
        const location = locations.get(id);
        if (!location || location.storedLength > slot) {
          throw new DataIntegrityError(
            `parent backup ${this.parentId}: chunk ${id} is ${location ? 'larger than a chunk' : 'not in the repository index'}`,
            id,
            location?.packId,
          );
        }
        return {
          location,
          blob: {
            offset: i * slot,
            storedLength: location.storedLength,
            rawLength: location.rawLength,
            flags: blobFlagsOf(location.storedLength, location.rawLength, encrypted),
            id,
          },
        };
      });
      for (let i = 0; i < blobs.length; i += READS_IN_FLIGHT) {
        await Promise.all(
          blobs
            .slice(i, i + READS_IN_FLIGHT)
            .map(({ location, blob }) =>
              repo.store.readRangeInto(
                packKey(location.packId),
                location.offset,
                Buffer.from(input, blob.offset, blob.storedLength),
              ),
            ),
        );
      }
      const decoded = await ctx.pool.decode(
        input,
        output,
        blobs.map((b) => b.blob),
        repo.crypto?.workerKeys ?? null,
      );
      blobs.forEach(({ location, blob }, i) => {
        const error = decoded.errors[i];
        if (error) {
          throw new DataIntegrityError(
            `parent backup ${this.parentId}: chunk ${blob.id} in pack ${location.packId} is damaged: ${error}`,
            blob.id,
            location.packId,
          );
        }
        const at = decoded.at[i]!;
        use(
          blob.id,
          at < 0 ? Buffer.from(input, blob.offset, blob.rawLength) : Buffer.from(output, at, blob.rawLength),
        );
      });
    } finally {
      ctx.buffers.give(input);
      ctx.buffers.give(output);
    }
  }
}
