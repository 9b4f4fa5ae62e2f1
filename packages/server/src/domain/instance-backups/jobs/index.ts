import type { JobHandler } from '../../../jobs/engine.js';
import type { InstanceJobDeps } from '../../instances/deps.js';
import { createInstanceBackupJob } from './create-instance-backup.job.js';
import { deleteInstanceBackupJob } from './delete-instance-backup.job.js';

export function instanceBackupJobs(deps: InstanceJobDeps): JobHandler[] {
  return [createInstanceBackupJob(deps), deleteInstanceBackupJob(deps)];
}
