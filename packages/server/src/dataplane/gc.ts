import { type EngineContext, PACK_TARGET_BYTES } from './backup.js';
import { throwIfAborted } from './errors.js';
import { ManifestReader } from './manifest.js';
import { PackBuilder, type PackEntry, packIdOfKey, packKey, readPackIndex } from './pack.js';
import type { RepositoryHandle } from './repository.js';
import type { CollectGarbageInput, CollectGarbageOutput } from './types.js';

/** Referenced chunk ids held in memory at once; more chunks in the repository mean more passes. */
const IDS_PER_PASS = 500_000;
const PAGE = 5000;
const HOUR = 60 * 60 * 1000;

/**
 * Garbage collection (no backup writes meanwhile): referenced = the chunk ids of all manifests.
 * Unreferenced index rows are deleted; packs left without live chunks are deleted; packs with some
 * are rewritten (live blobs copied into new packs, index moved, old pack deleted). Pack objects the
 * index does not know (crash leftovers) are adopted when they hold referenced chunks that are
 * nowhere else, and deleted otherwise. Stale temporary objects are removed.
 *
 * Every step leaves a consistent repository, so an interrupted run is finished by the next one.
 */
export async function runCollectGarbage(
  ctx: EngineContext,
  repo: RepositoryHandle,
  input: CollectGarbageInput,
): Promise<CollectGarbageOutput> {
  const { signal } = input;
  const started = Date.now();
  const out: CollectGarbageOutput = { deletedPacks: 0, rewrittenPacks: 0, deletedChunks: 0, freedBytes: 0 };
  const { store, index } = repo;

  // Stale temporary objects (writers that crashed or were aborted).
  const maxAge = input.tempFilesOlderThanMs ?? ctx.tempObjectsMaxAgeMs ?? HOUR;
  for await (const tmp of store.listTemporary()) {
    if (Date.now() - tmp.modifiedAt.getTime() >= maxAge) {
      await store.deleteTemporary(tmp.key);
      out.freedBytes += tmp.size;
    }
  }
  throwIfAborted(signal);

  // Every manifest must be readable: deleting by an incomplete reference set would lose data.
  const manifests: string[] = [];
  for await (const object of store.list('manifests/')) manifests.push(object.key.slice('manifests/'.length));
  for (const backupId of manifests) await ManifestReader.open(store, backupId, repo.crypto);

  // Pack objects unknown to the index.
  const knownPacks = await index.packIds();
  const orphans = new Map<string, { size: number; entries: PackEntry[]; referenced: PackEntry[] }>();
  for await (const object of store.list('packs/')) {
    const packId = packIdOfKey(object.key);
    if (packId === null || knownPacks.has(packId)) continue;
    try {
      orphans.set(packId, {
        size: object.size,
        entries: await readPackIndex(store, packId, object.size, repo.crypto),
        referenced: [],
      });
    } catch (error) {
      ctx.logger?.warn({ packId, err: error }, 'gc: unreadable pack unknown to the index; deleting it');
      await store.delete(object.key);
      out.deletedPacks++;
      out.freedBytes += object.size;
    }
  }

  // Mark and sweep the index rows, in passes over ranges of chunk ids (bounded memory).
  let orphanEntries = 0;
  for (const orphan of orphans.values()) orphanEntries += orphan.entries.length;
  const passes = Math.max(1, Math.ceil(((await index.chunkCount()) + orphanEntries) / IDS_PER_PASS));
  for (let pass = 0; pass < passes; pass++) {
    throwIfAborted(signal);
    const from = prefixAt(pass, passes);
    const to = pass === passes - 1 ? 'g' : prefixAt(pass + 1, passes); // 'g' sorts after every hex id
    const referenced = new Set<string>();
    for (const backupId of manifests) {
      const reader = await ManifestReader.open(store, backupId, repo.crypto);
      for await (const batch of reader.batches(8192)) {
        for (const entry of batch) if (entry.id >= from && entry.id < to) referenced.add(entry.id);
      }
    }
    let after: string | null = null;
    for (;;) {
      const rows = await index.idsPage(from, to, after, PAGE);
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const dead = rows.filter((row) => !referenced.has(row.id)).map((row) => row.id);
      if (dead.length > 0) out.deletedChunks += await index.deleteChunks(dead);
      if (rows.length < PAGE) break;
    }
    for (const orphan of orphans.values()) {
      for (const entry of orphan.entries) {
        if (entry.id >= from && entry.id < to && referenced.has(entry.id)) orphan.referenced.push(entry);
      }
    }
  }

  // Orphans: adopt referenced chunks the index has nowhere else, delete the rest.
  for (const [packId, orphan] of orphans) {
    throwIfAborted(signal);
    const indexed = await index.existing(orphan.referenced.map((e) => e.id));
    const adopt = orphan.referenced.filter((e) => !indexed.has(e.id));
    if (adopt.length > 0) {
      ctx.logger?.warn(
        { packId, chunks: adopt.length },
        'gc: adopting referenced chunks of an unindexed pack',
      );
      await index.adoptPack(packId, orphan.size, orphan.entries.length, adopt);
    } else {
      await store.delete(packKey(packId));
      out.deletedPacks++;
      out.freedBytes += orphan.size;
    }
  }

  // Packs: without live chunks → delete; with some dead → rewrite.
  const toRewrite: Array<{ id: string; sizeBytes: number }> = [];
  for (const pack of await index.packsWithLiveCounts()) {
    if (pack.live === 0) {
      await index.deletePack(pack.id);
      await store.delete(packKey(pack.id));
      out.deletedPacks++;
      out.freedBytes += pack.sizeBytes;
    } else if (pack.live < pack.chunkCount) {
      toRewrite.push(pack);
    }
  }

  let builder: PackBuilder | null = null;
  let copied: Array<{ id: string; sizeBytes: number }> = [];
  const sealBuilder = async () => {
    if (!builder) return;
    const sealing: PackBuilder = builder;
    builder = null;
    const size = await sealing.seal();
    const freed = new Set(
      await index.movePack(
        sealing.packId,
        size,
        sealing.entries,
        copied.map((p) => p.id),
      ),
    );
    out.freedBytes -= size;
    for (const old of copied) {
      if (!freed.has(old.id)) continue;
      await store.delete(packKey(old.id));
      out.rewrittenPacks++;
      out.freedBytes += old.sizeBytes;
    }
    copied = [];
  };
  try {
    for (const pack of toRewrite) {
      throwIfAborted(signal);
      let trailer: PackEntry[];
      let data: Buffer;
      try {
        trailer = await readPackIndex(store, pack.id, undefined, repo.crypto);
        data = await store.readRange(packKey(pack.id), 0, pack.sizeBytes);
      } catch (error) {
        ctx.logger?.error(
          { packId: pack.id, err: error },
          'gc: cannot read a pack to rewrite; left as it is',
        );
        continue;
      }
      const byId = new Map(trailer.map((e) => [e.id, e]));
      const live = (await index.chunksOfPack(pack.id)).flatMap((row) => {
        const entry = byId.get(row.id);
        return entry && entry.offset === row.offset && entry.storedLength === row.storedLength ? [entry] : [];
      });
      if (live.length === 0) continue;
      const blobs = Buffer.concat(live.map((e) => data.subarray(e.offset, e.offset + e.storedLength)));
      const current: PackBuilder | null = builder;
      if (current && current.size + blobs.length > PACK_TARGET_BYTES) await sealBuilder();
      builder ??= await PackBuilder.create(store, repo.crypto);
      await builder.append(
        blobs,
        live.map(({ id, storedLength, rawLength, flags }) => ({ id, storedLength, rawLength, flags })),
      );
      copied.push(pack);
    }
    await sealBuilder();
  } catch (error) {
    const abandoned: PackBuilder | null = builder;
    await abandoned?.abort();
    throw error;
  }

  ctx.logger?.info({ repositoryId: repo.id, ...out, ms: Date.now() - started }, 'gc: done');
  return out;
}

/** The `i`-th of `n` boundaries in the space of 4-hex-digit id prefixes. */
function prefixAt(i: number, n: number): string {
  return Math.floor((i * 0x10000) / n)
    .toString(16)
    .padStart(4, '0');
}
