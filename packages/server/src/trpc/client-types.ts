// What a TypeScript client needs of the tRPC API, and nothing else: the SDK bundles these types
// (`@backup-service/server/trpc`) so that it depends on nothing of the server.
export type { AppRouter } from './router.js';
export type {
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
} from './view-types.js';
