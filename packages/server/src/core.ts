import { Authenticator } from './auth/authenticator.js';
import {
  createDataPlane,
  createFileStorageDriver,
  type DataPlane,
  type StorageDriver,
} from './dataplane/index.js';
import type { Db } from './db/client.js';
import { RepositoryDirectory } from './domain/repositories.js';
import { volumeBackupJobs } from './domain/volume-backups/jobs/index.js';
import { VolumeBackupService } from './domain/volume-backups/service.js';
import { rollbackJob } from './domain/volume-rollbacks/rollback.job.js';
import { VolumeRollbackService } from './domain/volume-rollbacks/service.js';
import { JobEngine, type JobEngineOptions } from './jobs/engine.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import { OpenStackCloud, type OpenStackSettings } from './openstack/cloud.js';

export interface CoreOptions {
  prisma: Db;
  logger: Logger;
  metrics: Metrics;
  openstack: OpenStackSettings;
  tokenCacheSeconds: number;
  storage: { driver: 'file'; dir: string } | { driver: 'rbd' };
  repository: { defaultUrl: string; containers?: Record<string, string> };
  dataPlaneThreads?: number;
  jobs: Pick<JobEngineOptions, 'concurrency' | 'leaseMs' | 'pollMs' | 'observe' | 'retryDelayMs'>;
  /** Waiting for Cinder/Nova in jobs (tests shorten it). */
  pollMs?: number;
}

/** The domain services and what they stand on, shared by every transport. */
export interface Core {
  cloud: OpenStackCloud;
  authenticator: Authenticator;
  volumeBackups: VolumeBackupService;
  volumeRollbacks: VolumeRollbackService;
  jobs: JobEngine;
  dataPlane: DataPlane;
  storage: StorageDriver;
  repositories: RepositoryDirectory;
  /** Starts running jobs. */
  start(): void;
  /** Stops running jobs (handing back what is unfinished after `timeoutMs`) and closes connections. */
  stop(timeoutMs: number): Promise<void>;
}

export function createCore(options: CoreOptions): Core {
  const cloud = new OpenStackCloud(options.openstack);
  const authenticator = new Authenticator(cloud, options.tokenCacheSeconds);
  const dataPlane = createDataPlane({
    prisma: options.prisma,
    threads: options.dataPlaneThreads || undefined,
    logger: options.logger.child({ component: 'dataplane' }),
    metrics: options.metrics,
  });
  if (options.storage.driver !== 'file') throw new Error('STORAGE_DRIVER=rbd is not available yet');
  const storage = createFileStorageDriver({ dir: options.storage.dir });
  const repositories = new RepositoryDirectory(
    options.prisma,
    dataPlane,
    options.repository.defaultUrl,
    options.repository.containers,
  );
  const jobDeps = { prisma: options.prisma, cloud, dataPlane, storage, repositories, pollMs: options.pollMs };
  const jobs = new JobEngine({
    ...options.jobs,
    prisma: options.prisma,
    logger: options.logger.child({ component: 'jobs' }),
    metrics: options.metrics,
    handlers: [...volumeBackupJobs(jobDeps), rollbackJob({ cloud, storage })],
  });
  const volumeBackups = new VolumeBackupService({
    prisma: options.prisma,
    cloud,
    repositories,
    wakeJobs: () => jobs.wake(),
    holdTimeoutMs: options.openstack.http.timeoutMs,
  });
  const volumeRollbacks = new VolumeRollbackService({
    prisma: options.prisma,
    cloud,
    wakeJobs: () => jobs.wake(),
  });
  return {
    cloud,
    authenticator,
    volumeBackups,
    volumeRollbacks,
    jobs,
    dataPlane,
    storage,
    repositories,
    start: () => jobs.start(),
    async stop(timeoutMs) {
      await jobs.stop(timeoutMs);
      await dataPlane.close();
      await cloud.close();
    },
  };
}
