import type { AppRouter } from '@backup-service/server/trpc';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';

export type {
  AppRouter,
  InstanceArtifactStatus,
  InstanceBackupView,
  InstanceSnapshotView,
  JobKind,
  JobStatus,
  JobView,
  Page,
  RepositoryStatsView,
  RestorePointView,
  VolumeBackupStatus,
  VolumeBackupView,
  VolumeView,
} from '@backup-service/server/trpc';

/** Every procedure's input, e.g. `RouterInputs['volumeBackups']['create']`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** Every procedure's output, e.g. `RouterOutputs['volumeBackups']['get']`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** The service's error codes, the same behind /v1 (HTTP status), tRPC and GraphQL. */
export type DomainErrorCode = NonNullable<
  AppRouter['_def']['_config']['$types']['errorShape']['data']['domainCode']
>;
