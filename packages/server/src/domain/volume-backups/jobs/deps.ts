import type { DataPlane, StorageDriver } from '../../../dataplane/index.js';
import type { Db } from '../../../db/client.js';
import type { OpenStackCloud } from '../../../openstack/cloud.js';
import type { RepositoryDirectory } from '../../repositories.js';

/** What the volume-backup jobs work with. */
export interface VolumeBackupJobDeps {
  prisma: Db;
  cloud: OpenStackCloud;
  dataPlane: DataPlane;
  storage: StorageDriver;
  repositories: RepositoryDirectory;
  /** Waiting for Cinder: first poll interval and the longest wait. */
  pollMs?: number;
  waitTimeoutMs?: number;
}

/** Name of the temporary Cinder snapshot a backup reads from: unique, so a retried create finds it. */
export const temporarySnapshotName = (backupId: string) => `backup-service-${backupId}`;
