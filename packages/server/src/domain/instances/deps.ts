import type { VolumeBackupJobDeps } from '../volume-backups/jobs/deps.js';

/** What the instance jobs work with: the volume-backup jobs' dependencies and a staging directory. */
export interface InstanceJobDeps extends VolumeBackupJobDeps {
  /** Where an image-backed root disk's data is staged while it is backed up. */
  stagingDir: string;
  /** How long a parent job waits before looking at its children again. */
  childPollMs?: number;
}
