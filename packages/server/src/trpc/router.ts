import { router } from './init.js';
import { instanceBackupsRouter } from './routers/instance-backups.js';
import { instanceSnapshotsRouter } from './routers/instance-snapshots.js';
import { jobsRouter } from './routers/jobs.js';
import { repositoriesRouter } from './routers/repositories.js';
import { volumeBackupsRouter } from './routers/volume-backups.js';
import { volumesRouter } from './routers/volumes.js';

/** Every operation of /v1 and the richer reads (SPEC §8), over the same domain services. */
export const appRouter = router({
  volumeBackups: volumeBackupsRouter,
  volumes: volumesRouter,
  instanceSnapshots: instanceSnapshotsRouter,
  instanceBackups: instanceBackupsRouter,
  jobs: jobsRouter,
  repositories: repositoriesRouter,
});

/** The router's type: the SDK infers every procedure's input and output from it. */
export type AppRouter = typeof appRouter;
