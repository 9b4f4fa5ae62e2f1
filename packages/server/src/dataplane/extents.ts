import type { Extent } from './types.js';

/** A half-open range of chunk indexes [start, end). */
export interface ChunkRange {
  start: number;
  end: number;
}

/** Sorted, clipped to [0, size), overlapping and touching extents merged, empty ones dropped. */
export function normalizeExtents(extents: readonly Extent[], size: number): Extent[] {
  const clipped = extents
    .map((e) => {
      const start = Math.max(0, e.offset);
      const end = Math.min(size, e.offset + e.length);
      return { offset: start, length: end - start };
    })
    .filter((e) => e.length > 0)
    .sort((a, b) => a.offset - b.offset);
  const out: Extent[] = [];
  for (const e of clipped) {
    const last = out[out.length - 1];
    if (last && e.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, e.offset + e.length - last.offset);
    } else {
      out.push({ ...e });
    }
  }
  return out;
}

/** The chunks that byte extents touch, as sorted, merged ranges of chunk indexes. */
export function chunkRangesOf(extents: readonly Extent[], chunkSize: number, size: number): ChunkRange[] {
  const out: ChunkRange[] = [];
  for (const e of normalizeExtents(extents, size)) {
    const start = Math.floor(e.offset / chunkSize);
    const end = Math.ceil((e.offset + e.length) / chunkSize);
    addRange(out, start, end);
  }
  return out;
}

/** Appends [start, end) to sorted ranges, merging with the last one when they touch. */
export function addRange(ranges: ChunkRange[], start: number, end: number): void {
  if (end <= start) return;
  const last = ranges[ranges.length - 1];
  if (last && start <= last.end) {
    last.end = Math.max(last.end, end);
    return;
  }
  ranges.push({ start, end });
}

/** Union of two sorted range lists. */
export function unionRanges(a: readonly ChunkRange[], b: readonly ChunkRange[]): ChunkRange[] {
  const all = [...a, ...b].sort((x, y) => x.start - y.start);
  const out: ChunkRange[] = [];
  for (const r of all) addRange(out, r.start, r.end);
  return out;
}

/**
 * Groups ranges into batches of at most `batchChunks` chunks, in index order. A range is cut where
 * an index is a multiple of `batchChunks` (aligned, large reads); the pieces go into a batch while
 * they fit, so that many small ranges (an incremental's scattered writes) share a batch's worker
 * tasks and index query instead of paying for their own (each range is still a read of its own).
 */
export function* batchesOf(ranges: readonly ChunkRange[], batchChunks: number): Generator<ChunkRange[]> {
  let batch: ChunkRange[] = [];
  let chunks = 0;
  for (const r of ranges) {
    let start = r.start;
    while (start < r.end) {
      const alignedEnd = (Math.floor(start / batchChunks) + 1) * batchChunks;
      const end = Math.min(r.end, alignedEnd);
      if (chunks + end - start > batchChunks) {
        yield batch;
        batch = [];
        chunks = 0;
      }
      addRange(batch, start, end);
      chunks += end - start;
      start = end;
    }
  }
  if (batch.length > 0) yield batch;
}

export function rangesLength(ranges: readonly ChunkRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start;
  return n;
}
