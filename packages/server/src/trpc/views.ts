import type { RepositoryStatistics } from '../domain/repository-stats.js';
import type { RestorePoint } from '../domain/restore-points.js';
import type { VolumeBackupRecord } from '../domain/volume-backups/service.js';
import type { $Enums, InstanceBackup, InstanceSnapshot, Job } from '../generated/prisma/client.js';
import type { Volume } from '../openstack/cinder.js';
import type {
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

// The tRPC views, built field by field from the domain's records.

// view-types.ts spells the enums out (it may import nothing); these fail to compile if they drift.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const enumsMatch: [
  Same<VolumeBackupStatus, $Enums.VolumeBackupStatus>,
  Same<JobStatus, $Enums.JobStatus>,
  Same<JobKind, $Enums.JobKind>,
  Same<InstanceArtifactStatus, $Enums.InstanceArtifactStatus>,
] = [true, true, true, true];
void enumsMatch;

export function page<T extends { id: string }>(items: T[], more: boolean): Page<T> {
  return { items, nextMarker: more ? (items.at(-1)?.id ?? null) : null };
}

export function volumeBackupView(backup: VolumeBackupRecord): VolumeBackupView {
  return {
    id: backup.id,
    name: backup.name,
    description: backup.description,
    volumeId: backup.volumeId,
    snapshotId: backup.snapshotId,
    status: backup.status,
    failReason: backup.failReason,
    sizeGb: backup.sizeGb,
    objectCount: backup.objectCount,
    storedBytes: Number(backup.storedBytes),
    logicalBytes: Number(backup.logicalBytes),
    isIncremental: backup.isIncremental,
    parentId: backup.parentId,
    hasDependentBackups: backup.hasDependentBackups,
    container: backup.container,
    availabilityZone: backup.availabilityZone,
    dataTimestamp: iso(backup.dataTimestamp),
    createdAt: backup.createdAt.toISOString(),
    updatedAt: backup.updatedAt.toISOString(),
    projectId: backup.projectId,
    userId: backup.userId,
    metadata: (backup.metadata ?? {}) as Record<string, string>,
    progress: backup.progress,
    instanceBackupId: backup.instanceBackupId,
  };
}

export function jobView(job: Job): JobView {
  const done = Number(job.progressDone);
  const total = Number(job.progressTotal);
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    step: job.step,
    attempts: job.attempts,
    progress: { done, total, percent: jobPercent(job) },
    error: job.error,
    projectId: job.projectId,
    volumeBackupId: job.volumeBackupId,
    instanceSnapshotId: job.instanceSnapshotId,
    instanceBackupId: job.instanceBackupId,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
  };
}

/** A job's progress in percent: bytes done of total, 100 once it succeeded. */

export function jobPercent(job: Pick<Job, 'status' | 'progressDone' | 'progressTotal'>): number {
  if (job.status === 'succeeded') return 100;
  const total = Number(job.progressTotal);
  return total > 0 ? Math.min(100, Math.floor((Number(job.progressDone) * 100) / total)) : 0;
}

export function restorePointView(point: RestorePoint): RestorePointView {
  return {
    kind: point.kind,
    id: point.id,
    name: point.name,
    pointInTime: iso(point.pointInTime),
    status: point.status,
    sizeGb: point.sizeGb,
    isIncremental: point.isIncremental,
  };
}

export function volumeView(volume: Volume): VolumeView {
  return {
    id: volume.id,
    name: volume.name ?? null,
    status: volume.status,
    sizeGb: volume.size,
    availabilityZone: volume.availability_zone ?? null,
  };
}

export function repositoryStatsView(stats: RepositoryStatistics): RepositoryStatsView {
  return {
    id: stats.id,
    url: stats.url,
    backupCount: stats.backupCount,
    logicalBytes: stats.logicalBytes,
    storedBytes: stats.storedBytes,
    dedupRatio: stats.dedupRatio,
    chunkCount: stats.chunkCount,
    packCount: stats.packCount,
  };
}

interface StoredVolumeSnapshot {
  volume_id: string;
  snapshot_id: string | null;
  device: string | null;
  boot_index: number | null;
}

export function instanceSnapshotView(snapshot: InstanceSnapshot): InstanceSnapshotView {
  return {
    id: snapshot.id,
    name: snapshot.name,
    description: snapshot.description,
    instanceId: snapshot.instanceId,
    status: snapshot.status,
    failReason: snapshot.failReason,
    volumeSnapshots: (snapshot.volumeSnapshots as unknown as StoredVolumeSnapshot[]).map((e) => ({
      volumeId: e.volume_id,
      snapshotId: e.snapshot_id,
      device: e.device,
      bootIndex: e.boot_index,
    })),
    imageId: snapshot.imageId,
    instance: (snapshot.instance ?? {}) as Record<string, unknown>,
    createdAt: snapshot.createdAt.toISOString(),
    updatedAt: snapshot.updatedAt.toISOString(),
    projectId: snapshot.projectId,
    userId: snapshot.userId,
    metadata: (snapshot.metadata ?? {}) as Record<string, string>,
  };
}

interface StoredVolumeBackup {
  volume_id: string;
  backup_id: string;
  device: string | null;
  boot_index: number | null;
}

export function instanceBackupView(backup: InstanceBackup): InstanceBackupView {
  return {
    id: backup.id,
    name: backup.name,
    description: backup.description,
    instanceId: backup.instanceId,
    status: backup.status,
    failReason: backup.failReason,
    volumeBackups: (backup.volumeBackups as unknown as StoredVolumeBackup[]).map((e) => ({
      volumeId: e.volume_id,
      backupId: e.backup_id,
      device: e.device,
      bootIndex: e.boot_index,
    })),
    imageBackupId: backup.imageBackupId,
    container: backup.container,
    instance: (backup.instance ?? {}) as Record<string, unknown>,
    createdAt: backup.createdAt.toISOString(),
    updatedAt: backup.updatedAt.toISOString(),
    projectId: backup.projectId,
    userId: backup.userId,
    metadata: (backup.metadata ?? {}) as Record<string, string>,
  };
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}
