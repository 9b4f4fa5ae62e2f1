import type { VolumeBackupRecord } from '@backup-service/server';
import type { BackupView } from '../schemas/volume-backups.js';
import { cinderTime } from './timestamps.js';

/** The /v1 view of a backup, field by field (a superset of Cinder's backup view). */
export function backupView(backup: VolumeBackupRecord, baseUrl: string): BackupView {
  return {
    id: backup.id,
    name: backup.name,
    description: backup.description,
    volume_id: backup.volumeId,
    snapshot_id: backup.snapshotId,
    status: backup.status,
    fail_reason: backup.failReason,
    size: backup.sizeGb,
    object_count: backup.objectCount,
    stored_bytes: Number(backup.storedBytes),
    is_incremental: backup.isIncremental,
    parent_id: backup.parentId,
    has_dependent_backups: backup.hasDependentBackups,
    container: backup.container,
    availability_zone: backup.availabilityZone,
    data_timestamp: cinderTime(backup.dataTimestamp),
    created_at: cinderTime(backup.createdAt),
    updated_at: cinderTime(backup.updatedAt),
    project_id: backup.projectId,
    user_id: backup.userId,
    metadata: (backup.metadata ?? {}) as Record<string, string>,
    progress: backup.progress,
    links: [{ href: `${baseUrl}/v1/volume/backup/${backup.id}`, rel: 'self' }],
  };
}
