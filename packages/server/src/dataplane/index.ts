import os from 'node:os';
import { type EngineContext, runBackup } from './backup.js';
import { runCollectGarbage } from './gc.js';
import { manifestKey } from './manifest.js';
import { listManifests, rebuildIndex } from './recover.js';
import { normalizeRepositoryUrl, openRepositoryAt, type RepositoryHandle } from './repository.js';
import { runRestore, runVerify } from './restore.js';
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
} from './types.js';

export const DEFAULT_CHUNK_SIZE = 64 * 1024;

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const threads = Math.max(1, options.threads ?? os.availableParallelism());
  const pool = new WorkerPool(threads);
  const ctx: EngineContext = {
    pool,
    // Recycled while the data plane works: workers hold on to the SharedArrayBuffers they saw until
    // their own (rare) garbage collection, so dropping and reallocating them would grow RSS. Per
    // size, about two operations' windows. Given back when idle (below).
    buffers: new BufferPool(4 * (threads * 2 + 2)),
    logger: options.logger,
    metrics: options.metrics,
    compressionLevel: options.compressionLevel ?? 1,
    tempObjectsMaxAgeMs: options.tempObjectsMaxAgeMs,
  };
  const repositories = new Map<string, Promise<RepositoryHandle>>();
  let closed = false;

  // An idle data plane gives its buffers and worker threads back, so that a service serving only
  // API requests between backups does not keep a backup's working memory (hundreds of MiB).
  const idleReleaseMs = options.idleReleaseMs ?? 5_000;
  let running = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let idleReleases = 0;
  const releaseIdle = () => {
    idleTimer = undefined;
    if (running > 0 || closed) return;
    idleReleases++;
    ctx.buffers.trim();
    pool.release().catch((error: unknown) => options.logger?.warn({ err: error }, 'worker pool release'));
  };
  const working = async <T>(operation: () => Promise<T>): Promise<T> => {
    running++;
    clearTimeout(idleTimer);
    idleTimer = undefined;
    try {
      return await operation();
    } finally {
      if (--running === 0 && !closed) idleTimer = setTimeout(releaseIdle, idleReleaseMs).unref();
    }
  };

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
    backup(input) {
      return working(async () => runBackup(ctx, await resolve(input.repository), input));
    },
    restore(input) {
      return working(async () => runRestore(ctx, await resolve(input.repository), input));
    },
    verify(input) {
      return working(async () => runVerify(ctx, await resolve(input.repository), input));
    },
    async deleteBackup(input) {
      const repo = await resolve(input.repository);
      await repo.store.delete(manifestKey(input.backupId));
    },
    collectGarbage(input) {
      return working(async () => runCollectGarbage(ctx, await resolve(input.repository), input));
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
    resources() {
      return {
        pooledBufferBytes: ctx.buffers.idleBytes,
        workerThreads: pool.started ? threads : 0,
        idleReleases,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(idleTimer);
      ctx.buffers.trim();
      await pool.close();
      const handles = await Promise.allSettled(repositories.values());
      for (const handle of handles) {
        if (handle.status === 'fulfilled') await handle.value.store.close?.().catch(() => {});
      }
    },
  };
}
