import type { InstanceBackup, InstanceSnapshot } from '@backup-service/server';
import type { InstanceBackupView, InstanceSnapshotView } from '../schemas/instances.js';
import { cinderTime } from './timestamps.js';

/** The /v1 view of an instance snapshot, field by field (SPEC §5.5). */
export function instanceSnapshotView(snapshot: InstanceSnapshot, baseUrl: string): InstanceSnapshotView {
  return {
    id: snapshot.id,
    name: snapshot.name,
    description: snapshot.description,
    instance_id: snapshot.instanceId,
    status: snapshot.status,
    fail_reason: snapshot.failReason,
    volume_snapshots: (snapshot.volumeSnapshots as InstanceSnapshotView['volume_snapshots']).map((e) => ({
      volume_id: e.volume_id,
      snapshot_id: e.snapshot_id,
      device: e.device,
      boot_index: e.boot_index,
    })),
    image_id: snapshot.imageId,
    instance: snapshot.instance as Record<string, unknown>,
    created_at: cinderTime(snapshot.createdAt),
    updated_at: cinderTime(snapshot.updatedAt),
    project_id: snapshot.projectId,
    user_id: snapshot.userId,
    metadata: (snapshot.metadata ?? {}) as Record<string, string>,
    links: [{ href: `${baseUrl}/v1/instance/snapshot/${snapshot.id}`, rel: 'self' }],
  };
}

/** The /v1 view of an instance backup, field by field (SPEC §5.6). */
export function instanceBackupView(backup: InstanceBackup, baseUrl: string): InstanceBackupView {
  return {
    id: backup.id,
    name: backup.name,
    description: backup.description,
    instance_id: backup.instanceId,
    status: backup.status,
    fail_reason: backup.failReason,
    volume_backups: (backup.volumeBackups as InstanceBackupView['volume_backups']).map((e) => ({
      volume_id: e.volume_id,
      backup_id: e.backup_id,
      device: e.device,
      boot_index: e.boot_index,
    })),
    image_backup_id: backup.imageBackupId,
    container: backup.container,
    instance: backup.instance as Record<string, unknown>,
    created_at: cinderTime(backup.createdAt),
    updated_at: cinderTime(backup.updatedAt),
    project_id: backup.projectId,
    user_id: backup.userId,
    metadata: (backup.metadata ?? {}) as Record<string, string>,
    links: [{ href: `${baseUrl}/v1/instance/backup/${backup.id}`, rel: 'self' }],
  };
}
