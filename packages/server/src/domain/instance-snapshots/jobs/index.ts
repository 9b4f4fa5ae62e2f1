import type { JobHandler } from '../../../jobs/engine.js';
import type { InstanceJobDeps } from '../../instances/deps.js';
import { createInstanceSnapshotJob } from './create-instance-snapshot.job.js';
import { deleteInstanceSnapshotJob } from './delete-instance-snapshot.job.js';

export function instanceSnapshotJobs(deps: InstanceJobDeps): JobHandler[] {
  return [createInstanceSnapshotJob(deps), deleteInstanceSnapshotJob(deps)];
}
