import { Authenticator } from './auth/authenticator.js';
import {
  createDataPlane,
  createFileStorageDriver,
  createRbdStorageDriver,
  type DataPlane,
  type StorageDriver,
} from './dataplane/index.js';
import { type RepositorySettings, repositoryOptionsOf } from './dataplane/repository-settings.js';
import type { Db } from './db/client.js';
import { instanceBackupJobs } from './domain/instance-backups/jobs/index.js';
import { InstanceBackupService } from './domain/instance-backups/service.js';
import { instanceSnapshotJobs } from './domain/instance-snapshots/jobs/index.js';
import { InstanceSnapshotService } from './domain/instance-snapshots/service.js';
import { JobQueryService } from './domain/job-queries.js';
import { reconcileTransitionalStatuses } from './domain/reconcile.js';
import { RecoveryService } from './domain/recovery.js';
import { RepositoryDirectory } from './domain/repositories.js';
import { RepositoryStatsService } from './domain/repository-stats.js';
import { RestorePointService } from './domain/restore-points.js';
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
  storage:
    | { driver: 'file'; dir: string }
    | { driver: 'rbd'; pool: string; cephConf?: string; client?: string; keyring?: string };
  repository: {
    defaultUrl: string;
    containers?: Record<string, string>;
    /** Repository key, S3 and Swift access (repositorySettingsFromConfig); unset: file:// only, unencrypted. */
    settings?: RepositorySettings;
  };
  dataPlaneThreads?: number;
  jobs: Pick<JobEngineOptions, 'concurrency' | 'leaseMs' | 'pollMs' | 'observe' | 'retryDelayMs'>;
  /** Waiting for Cinder/Nova in jobs (tests shorten it). */
  pollMs?: number;
  /** Where an instance backup stages an image-backed root disk's data. */
  stagingDir: string;
}

/** The domain services and what they stand on, shared by every transport. */
export interface Core {
  cloud: OpenStackCloud;
  authenticator: Authenticator;
  volumeBackups: VolumeBackupService;
  volumeRollbacks: VolumeRollbackService;
  instanceSnapshots: InstanceSnapshotService;
  instanceBackups: InstanceBackupService;
  jobs: JobEngine;
  dataPlane: DataPlane;
  storage: StorageDriver;
  repositories: RepositoryDirectory;
  /** Reads of jobs and their progress. */
  jobQueries: JobQueryService;
  /** A volume's backups and snapshots it can be brought back to. */
  restorePoints: RestorePointService;
  repositoryStats: RepositoryStatsService;
  /** Recovery without the database: re-import a repository's backups from its manifests. */
  recovery: RecoveryService;
  /** Starts running jobs. */
  start(): void;
  /** Stops running jobs (handing back what is unfinished after `timeoutMs`) and closes connections. */
  stop(timeoutMs: number): Promise<void>;
}

export function createCore(options: CoreOptions): Core {
  let reconciler: NodeJS.Timeout | undefined;
  const cloud = new OpenStackCloud(options.openstack);
  const authenticator = new Authenticator(cloud, options.tokenCacheSeconds);
  const repositoryOptions = options.repository.settings
    ? repositoryOptionsOf(options.repository.settings, cloud, (url) =>
        options.logger.warn(
          { repository: url },
          'a repository key is configured, but this repository was created without encryption: its backups stay unencrypted',
        ),
      )
    : undefined;
  const dataPlane = createDataPlane({
    prisma: options.prisma,
    repositories: repositoryOptions,
    tempObjectsMaxAgeMs: options.repository.settings?.tempObjectsMaxAgeMs,
    threads: options.dataPlaneThreads || undefined,
    logger: options.logger.child({ component: 'dataplane' }),
    metrics: options.metrics,
  });
  const storage =
    options.storage.driver === 'rbd'
      ? createRbdStorageDriver({ ...options.storage, logger: options.logger.child({ component: 'rbd' }) })
      : createFileStorageDriver({ dir: options.storage.dir });
  const repositories = new RepositoryDirectory(
    options.prisma,
    dataPlane,
    options.repository.defaultUrl,
    options.repository.containers,
  );
  const jobDeps = { prisma: options.prisma, cloud, dataPlane, storage, repositories, pollMs: options.pollMs };
  const instanceJobDeps = {
    ...jobDeps,
    stagingDir: options.stagingDir,
    childPollMs: options.pollMs ? options.pollMs * 10 : undefined,
  };
  const jobs = new JobEngine({
    ...options.jobs,
    prisma: options.prisma,
    logger: options.logger.child({ component: 'jobs' }),
    metrics: options.metrics,
    handlers: [
      ...volumeBackupJobs(jobDeps),
      rollbackJob({ cloud, storage }),
      ...instanceSnapshotJobs(instanceJobDeps),
      ...instanceBackupJobs(instanceJobDeps),
    ],
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
    holdTimeoutMs: options.openstack.http.timeoutMs,
  });
  const instanceSnapshots = new InstanceSnapshotService({
    prisma: options.prisma,
    cloud,
    wakeJobs: () => jobs.wake(),
    holdTimeoutMs: options.openstack.http.timeoutMs,
  });
  const instanceBackups = new InstanceBackupService({
    prisma: options.prisma,
    cloud,
    repositories,
    wakeJobs: () => jobs.wake(),
  });
  return {
    cloud,
    authenticator,
    volumeBackups,
    volumeRollbacks,
    instanceSnapshots,
    instanceBackups,
    jobs,
    dataPlane,
    storage,
    repositories,
    jobQueries: new JobQueryService({ prisma: options.prisma }),
    restorePoints: new RestorePointService({ prisma: options.prisma, cloud }),
    repositoryStats: new RepositoryStatsService({ prisma: options.prisma, dataPlane, repositories }),
    recovery: new RecoveryService({ prisma: options.prisma, dataPlane, repositories }),
    start() {
      jobs.start();
      const reconcile = () =>
        reconcileTransitionalStatuses(options.prisma, options.logger).catch((error) =>
          options.logger.warn({ err: error }, 'reconciling statuses failed'),
        );
      void reconcile();
      reconciler = setInterval(reconcile, 60_000);
      reconciler.unref();
    },
    async stop(timeoutMs) {
      clearInterval(reconciler);
      await jobs.stop(timeoutMs);
      await dataPlane.close();
      await repositoryOptions?.close();
      await cloud.close();
    },
  };
}
