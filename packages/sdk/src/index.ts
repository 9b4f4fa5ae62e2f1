export { TRPCClientError } from '@trpc/client';
export { type BackupClient, type BackupClientOptions, createBackupClient } from './client.js';
export {
  errorCode,
  items,
  type ListInput,
  type ListItem,
  type ListProcedure,
  pages,
  type QueryProcedure,
  WaitForError,
  type WaitOptions,
  waitFor,
  waitForGone,
} from './helpers.js';
export { type KeystoneCredentials, KeystoneError } from './keystone.js';
export type {
  AppRouter,
  DomainErrorCode,
  InstanceArtifactStatus,
  InstanceBackupView,
  InstanceSnapshotView,
  JobKind,
  JobStatus,
  JobView,
  Page,
  RepositoryStatsView,
  RestorePointView,
  RouterInputs,
  RouterOutputs,
  VolumeBackupStatus,
  VolumeBackupView,
  VolumeView,
} from './types.js';
