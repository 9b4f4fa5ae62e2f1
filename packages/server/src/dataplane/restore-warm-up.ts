import os from 'node:os';
import type { EngineContext } from './backup.js';
import type { ChunkLocation } from './chunk-index.js';
import { InFlight, Semaphore } from './concurrency.js';
import { ManifestReader } from './manifest.js';
import { packKey } from './pack.js';
import type { RepositoryHandle } from './repository.js';
import { MAX_READ_GAP } from './restore.js';
import type { WarmRestoreInput, WarmRestoreOutput } from './types.js';

/** Distinct chunks per index lookup of a warm-up (one query each). */
const WARM_UP_LOOKUP = 2000;
/** The page cache is not ours alone: a warm-up reads this much at most by default. */
const WARM_UP_MAX_BYTES = Math.min(1024 ** 3, Math.floor(os.totalmem() / 8));
/** After this, a warmed pack may have left the page cache: read it past the cache again. */
const WARM_PACK_TTL_MS = 10 * 60_000;
const WARM_PACKS_KEPT = 4096;
const WARM_UP_READS_IN_FLIGHT = 2;
/**
 * Small reads, so that the disk's other users wait behind little of ours: Cinder creating the very
 * volume we wait for may share it (the simulator here: three fsyncs). With 4 MiB pieces its new
 * volume came past our poll in 9 of 42 restores from a cold cache, with 1 MiB ones in 3 of 68.
 */
const WARM_UP_PIECE = 1024 * 1024;

/**
 * Packs this process read into the page cache for a restore about to start (runWarmRestore): the
 * restore reads them through the cache instead of with O_DIRECT, which would go to the disk again.
 */
export class WarmPacks {
  private readonly warmedAt = new Map<string, number>();

  add(repositoryId: string, packId: string): void {
    const key = `${repositoryId}/${packId}`;
    this.warmedAt.delete(key);
    this.warmedAt.set(key, Date.now());
    for (const oldest of this.warmedAt.keys()) {
      if (this.warmedAt.size <= WARM_PACKS_KEPT) break;
      this.warmedAt.delete(oldest);
    }
  }

  has(repositoryId: string, packId: string): boolean {
    const at = this.warmedAt.get(`${repositoryId}/${packId}`);
    return at !== undefined && Date.now() - at < WARM_PACK_TTL_MS;
  }
}

/**
 * Brings the pack ranges a restore of the backup will read into the page cache, in the order it
 * reads them, until done, `maxBytes`, or the signal. Meant for while Cinder creates the volume: the
 * restore then mostly writes. Stores without a page cache (remote) warm nothing. Never throws: a
 * failure only costs the head start (the restore reads everything itself and reports damage).
 */
export async function runWarmRestore(
  ctx: EngineContext,
  repo: RepositoryHandle,
  input: WarmRestoreInput,
): Promise<WarmRestoreOutput> {
  const packs = new Set<string>();
  let bytes = 0;
  const warmed = () => ({ packs: packs.size, bytes });
  const { store } = repo;
  const prefetch = store.prefetch?.bind(store);
  const { signal } = input;
  const maxBytes = input.maxBytes ?? WARM_UP_MAX_BYTES;
  if (!prefetch || signal?.aborted) return warmed();
  // Two reads in flight keep the disk busy while each one's bytes are copied out.
  const window = new Semaphore(WARM_UP_READS_IN_FLIGHT);
  const inFlight = new InFlight();
  let failure: unknown = null;
  let requested = 0;
  const warm = async (packId: string, offset: number, length: number) => {
    await window.acquire();
    requested += length;
    inFlight.add(
      prefetch(packKey(packId), offset, length)
        .then(() => {
          ctx.warmPacks.add(repo.id, packId);
          packs.add(packId);
          bytes += length;
        })
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => window.release()),
    );
  };
  const stopped = () => failure !== null || signal?.aborted === true || requested >= maxBytes;
  try {
    const reader = await ManifestReader.open(store, input.backupId, repo.crypto);
    const seen = new Set<string>();
    for await (const entries of reader.batches(WARM_UP_LOOKUP)) {
      const ids: string[] = [];
      for (const { id } of entries) {
        if (seen.has(id)) continue;
        seen.add(id);
        ids.push(id);
      }
      if (stopped()) break;
      const locations = await repo.index.locate(ids);
      const byPack = new Map<string, ChunkLocation[]>();
      for (const id of ids) {
        const location = locations.get(id);
        if (!location) continue;
        const list = byPack.get(location.packId);
        if (list) list.push(location);
        else byPack.set(location.packId, [location]);
      }
      for (const [packId, list] of byPack) {
        list.sort((a, b) => a.offset - b.offset);
        let start = list[0]!.offset;
        let end = start;
        for (const loc of [...list, null]) {
          if (loc && loc.offset - end <= MAX_READ_GAP) {
            end = Math.max(end, loc.offset + loc.storedLength);
            continue;
          }
          // In pieces: a stop takes effect within one piece's read.
          for (let at = start; at < end && !stopped(); at += WARM_UP_PIECE) {
            await warm(packId, at, Math.min(WARM_UP_PIECE, end - at));
          }
          if (loc) {
            start = loc.offset;
            end = loc.offset + loc.storedLength;
          }
        }
      }
    }
  } catch (error) {
    failure ??= error;
  }
  await inFlight.settle();
  if (failure && !signal?.aborted) {
    ctx.logger?.warn(
      { err: failure, backupId: input.backupId },
      'restore warm-up failed: the restore reads the packs itself',
    );
  }
  return warmed();
}
