// What tRPC answers: plain JSON (ISO 8601 times, byte counts as numbers). This file imports nothing,
// so that the SDK's bundled declarations carry these types and nothing of the server's.

/** A page of a list: `nextMarker` is the marker of the next page, null on the last one. */
export interface Page<T> {
  items: T[];
  nextMarker: string | null;
}

export interface VolumeBackupView {
  id: string;
  name: string | null;
  description: string | null;
  volumeId: string;
  snapshotId: string | null;
  status: VolumeBackupStatus;
  failReason: string | null;
  /** The volume's size in GiB, as in Cinder. */
  sizeGb: number;
  objectCount: number;
  /** What this backup added to the repository (new chunks, after compression). */
  storedBytes: number;
  /** Non-zero bytes of the volume the backup describes. */
  logicalBytes: number;
  isIncremental: boolean;
  parentId: string | null;
  hasDependentBackups: boolean;
  container: string | null;
  availabilityZone: string | null;
  dataTimestamp: string | null;
  createdAt: string;
  updatedAt: string;
  projectId: string;
  userId: string;
  metadata: Record<string, string>;
  /** 0–100. */
  progress: number;
  instanceBackupId: string | null;
}

export interface JobView {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** The step running or next. */
  step: string;
  attempts: number;
  progress: {
    /** Bytes done of the current data step. */
    done: number;
    total: number;
    /** 0–100 (100 once the job succeeded). */
    percent: number;
  };
  error: string | null;
  projectId: string;
  volumeBackupId: string | null;
  instanceSnapshotId: string | null;
  instanceBackupId: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RestorePointView {
  /** `backup`: restore it (into this volume or a new one); `snapshot`: roll the volume back to it. */
  kind: 'backup' | 'snapshot';
  id: string;
  name: string | null;
  pointInTime: string | null;
  status: string;
  sizeGb: number;
  isIncremental: boolean;
}

export interface RepositoryStatsView {
  id: string;
  /** Where it is (a password in the URL replaced). */
  url: string;
  /** Backups whose data the repository holds (available or being restored from). */
  backupCount: number;
  /** Non-zero bytes of the volumes those backups describe, added up. */
  logicalBytes: number;
  /** Bytes the repository's packs take (after deduplication and compression). */
  storedBytes: number;
  /** logicalBytes / storedBytes (null while empty). */
  dedupRatio: number | null;
  chunkCount: number;
  packCount: number;
}

export interface VolumeView {
  id: string;
  name: string | null;
  status: string;
  sizeGb: number;
  availabilityZone: string | null;
}

export type VolumeBackupStatus =
  | 'creating'
  | 'available'
  | 'deleting'
  | 'restoring'
  | 'error'
  | 'error_deleting';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type JobKind =
  | 'volume_backup_create'
  | 'volume_backup_restore'
  | 'volume_backup_delete'
  | 'volume_backup_verify'
  | 'volume_rollback'
  | 'instance_snapshot_create'
  | 'instance_snapshot_delete'
  | 'instance_backup_create'
  | 'instance_backup_delete'
  | 'repository_gc';

export type InstanceArtifactStatus = 'creating' | 'available' | 'deleting' | 'error' | 'error_deleting';

export interface InstanceSnapshotView {
  id: string;
  name: string | null;
  description: string | null;
  instanceId: string;
  status: InstanceArtifactStatus;
  failReason: string | null;
  /** A Cinder snapshot of each attached volume, taken at one point in time. */
  volumeSnapshots: Array<{
    volumeId: string;
    snapshotId: string | null;
    device: string | null;
    bootIndex: number | null;
  }>;
  /** The Glance image of an image-backed root disk. */
  imageId: string | null;
  /** The instance's description at the time: name, flavor, image, block device mapping. */
  instance: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  projectId: string;
  userId: string;
  metadata: Record<string, string>;
}

export interface InstanceBackupView {
  id: string;
  name: string | null;
  description: string | null;
  instanceId: string;
  status: InstanceArtifactStatus;
  failReason: string | null;
  /** A volume backup of each attached volume. */
  volumeBackups: Array<{
    volumeId: string;
    backupId: string;
    device: string | null;
    bootIndex: number | null;
  }>;
  /** The backup holding an image-backed root disk's data. */
  imageBackupId: string | null;
  container: string | null;
  instance: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  projectId: string;
  userId: string;
  metadata: Record<string, string>;
}
