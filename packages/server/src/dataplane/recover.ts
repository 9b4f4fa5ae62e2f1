import { InFlight, Semaphore } from './concurrency.js';
import { throwIfAborted } from './errors.js';
import { ManifestReader } from './manifest.js';
import { packIdOfKey, readPackIndex } from './pack.js';
import type { RepositoryHandle } from './repository.js';
import type { ManifestSummary, RebuildIndexOutput } from './types.js';

/** Pack trailers read at once while rebuilding the index. */
const READ_CONCURRENCY = 8;

/**
 * The backups a repository holds, from its manifests' headers (the entries are not read): what a
 * new installation needs to list them again. A manifest that does not open is reported, not skipped
 * silently.
 */
export async function* listManifests(
  repo: RepositoryHandle,
): AsyncIterable<{ backupId: string; manifest: ManifestSummary | null; error: string | null }> {
  const ids: string[] = [];
  for await (const object of repo.store.list('manifests/')) ids.push(object.key.slice('manifests/'.length));
  for (const backupId of ids) {
    try {
      const reader = await ManifestReader.open(repo.store, backupId, repo.crypto);
      const h = reader.header;
      yield {
        backupId,
        manifest: {
          backupId: h.backupId,
          volumeId: h.volumeId,
          sizeBytes: h.sizeBytes,
          chunkSize: h.chunkSize,
          createdAt: h.createdAt,
          parentBackupId: h.parentBackupId ?? null,
          record: h.record ?? null,
          chunkCount: reader.entryCount,
          logicalBytes: reader.logicalBytes,
        },
        error: null,
      };
    } catch (error) {
      yield { backupId, manifest: null, error: (error as Error).message };
    }
  }
}

/**
 * Rebuilds the chunk index (PostgreSQL) from the packs' own indexes: every pack object the index
 * does not know is read (its trailer only; decrypted with the repository key when encrypted) and
 * recorded with its chunks. Chunks already indexed keep their location. Safe to run again; run it
 * while no garbage collection runs on the repository.
 */
export async function rebuildIndex(
  repo: RepositoryHandle,
  input: { signal?: AbortSignal },
): Promise<RebuildIndexOutput> {
  const out: RebuildIndexOutput = { indexedPacks: 0, indexedChunks: 0, damagedPacks: [] };
  const known = await repo.index.packIds();
  const gate = new Semaphore(READ_CONCURRENCY);
  const inFlight = new InFlight();
  let failure: unknown = null;
  for await (const object of repo.store.list('packs/')) {
    throwIfAborted(input.signal);
    if (failure) break;
    const packId = packIdOfKey(object.key);
    if (packId === null || known.has(packId)) continue;
    await gate.acquire();
    inFlight.add(
      (async () => {
        try {
          const entries = await readPackIndex(repo.store, packId, object.size, repo.crypto);
          const added = await repo.index.addPack(packId, object.size, entries);
          out.indexedChunks += added; // (not `+= await`: that reads the sum before waiting)
          out.indexedPacks++;
        } catch (error) {
          if (isDamage(error)) out.damagedPacks.push({ packId, reason: (error as Error).message });
          else failure ??= error;
        } finally {
          gate.release();
        }
      })(),
    );
  }
  await inFlight.settle();
  if (failure) throw failure;
  throwIfAborted(input.signal);
  return out;
}

/** A pack whose trailer is damaged (as opposed to the store or the database failing). */
function isDamage(error: unknown): boolean {
  const e = error as Error;
  return e.name === 'DecryptionError' || /^pack [0-9a-f]+/.test(e.message ?? '');
}
