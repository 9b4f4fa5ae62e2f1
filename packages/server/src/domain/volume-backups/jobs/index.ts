import type { JobHandler } from '../../../jobs/engine.js';
import { createBackupJob } from './create-backup.job.js';
import { collectGarbageJob, deleteBackupJob } from './delete-backup.job.js';
import type { VolumeBackupJobDeps } from './deps.js';
import { restoreBackupJob } from './restore-backup.job.js';
import { verifyBackupJob } from './verify-backup.job.js';

export type { VolumeBackupJobDeps } from './deps.js';

export function volumeBackupJobs(deps: VolumeBackupJobDeps): JobHandler[] {
  return [
    createBackupJob(deps),
    restoreBackupJob(deps),
    deleteBackupJob(deps),
    verifyBackupJob(deps),
    collectGarbageJob(deps),
  ];
}
