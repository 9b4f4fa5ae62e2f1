import os from 'node:os';
import { type EngineContext, runBackup } from './backup.js';
import { runCollectGarbage } from './gc.js';
import { manifestKey } from './manifest.js';
import { listManifests, rebuildIndex } from './recover.js';
import { normalizeRepositoryUrl, openRepositoryAt, type RepositoryHandle } from './repository.js';
import { runRestore, runVerify } from './restore.js';
import { runWarmRestore, WarmPacks } from './restore-warm-up.js';
import type { DataPlane, DataPlaneOptions, Repository } from './types.js';
import { BufferPool, WorkerPool } from './worker-pool.js';

export {
  DecryptionError,
  operatorKeyId,
  parseRepositoryKey,
  RepositoryKeyError,
  readRepositoryKeyFile,
} from './crypto.js';
export { DataIntegrityError, ManifestNotFoundError } from './errors.js';
export { createFileStorageDriver } from './file-driver.js';
export type { ObjectInfo, ObjectStore, ObjectStoreBackends } from './object-store.js';
export { openObjectStore } from './object-store.js';
export { RbdCommandError } from './rbd-cli.js';
export { createRbdStorageDriver, type RbdDriverOptions } from './rbd-driver.js';
export { normalizeRepositoryUrl, type RepositoryOptions, readRepository } from './repository.js';
export {
  addRepositoryKey,
  checkRepositoryKey,
  listRepositoryKeys,
  removeRepositoryKey,
} from './repository-keys.js';
export type { S3Settings } from './s3-store.js';
export type { SwiftAuth } from './swift-store.js';
export type {
  BackupInput,
  BackupOutput,
  BackupRecord,
  CollectGarbageInput,
  CollectGarbageOutput,
  DataPlane,
  DataPlaneOptions,
  Extent,
  ManifestSummary,
  RebuildIndexOutput,
  Repository,
  RepositoryStats,
  RestoreInput,
  SnapshotReader,
  StorageDriver,
  VerifyInput,
  VerifyOutput,
  VolumeWriter,
  WarmRestoreInput,
  WarmRestoreOutput,
} from './types.js';

export const DEFAULT_CHUNK_SIZE = 64 * 1024;

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const threads = Math.max(1, options.threads ?? os.availableParallelism());
  const pool = new WorkerPool(threads);
  const ctx: EngineContext = {
    pool,
    // Recycled, never freed: workers hold on to the SharedArrayBuffers they saw until their own
    // (rare) garbage collection, so dropping and reallocating them would grow RSS. Per size, about
    // two operations' windows.
    buffers: new BufferPool(4 * (threads * 2 + 2)),
    logger: options.logger,
    metrics: options.metrics,
    compressionLevel: options.compressionLevel ?? 1,
    tempObjectsMaxAgeMs: options.tempObjectsMaxAgeMs,
    warmPacks: new WarmPacks(),
  };
  const repositories = new Map<string, Promise<RepositoryHandle>>();
  let closed = false;

  const open = (url: string, mustExist = false): Promise<RepositoryHandle> => {
    if (closed) throw new Error('the data plane is closed');
    const key = normalizeRepositoryUrl(url);
    let handle = repositories.get(key);
    if (!handle) {
      handle = openRepositoryAt(options.prisma, key, options.defaultChunkSize ?? DEFAULT_CHUNK_SIZE, {
        ...options.repositories,
        mustExist,
      });
      repositories.set(key, handle);
      handle.catch(() => repositories.delete(key)); // a failed open is retried next time
    }
    return handle;
  };

  /** The open handle of a repository given as returned by openRepository or rebuilt from its row. */
  const resolve = async (repository: Repository): Promise<RepositoryHandle> => {
    const handle = await open(repository.url);
    if (handle.id !== repository.id) {
      throw new Error(`repository at ${repository.url} has id ${handle.id}, not ${repository.id}`);
    }
    return handle;
  };

  return {
    async openRepository(url, openOptions) {
      const handle = await open(url, openOptions?.mustExist ?? false);
      return handle;
    },
    async backup(input) {
      return runBackup(ctx, await resolve(input.repository), input);
    },
    async restore(input) {
      return runRestore(ctx, await resolve(input.repository), input);
    },
    async warmRestore(input) {
      return runWarmRestore(ctx, await resolve(input.repository), input);
    },
    async verify(input) {
      return runVerify(ctx, await resolve(input.repository), input);
    },
    async deleteBackup(input) {
      const repo = await resolve(input.repository);
      await repo.store.delete(manifestKey(input.backupId));
    },
    async collectGarbage(input) {
      return runCollectGarbage(ctx, await resolve(input.repository), input);
    },
    async stats(repository) {
      return (await resolve(repository)).index.stats();
    },
    async hasManifest(repository, backupId) {
      const repo = await resolve(repository);
      return (await repo.store.size(manifestKey(backupId))) !== null;
    },
    async *listManifests(repository) {
      yield* listManifests(await resolve(repository));
    },
    async rebuildIndex(input) {
      return rebuildIndex(await resolve(input.repository), input);
    },
    async close() {
      if (closed) return;
      closed = true;
      ctx.buffers.trim();
      await pool.close();
      const handles = await Promise.allSettled(repositories.values());
      for (const handle of handles) {
        if (handle.status === 'fulfilled') await handle.value.store.close?.().catch(() => {});
      }
    },
  };
}
