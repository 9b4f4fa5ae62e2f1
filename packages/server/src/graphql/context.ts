import type { Caller } from '../auth/caller.js';
import type { Core } from '../core.js';
import type { Db } from '../db/client.js';

/** What every resolver gets: the authenticated caller and the services. */
export interface GraphQLContext {
  caller: Caller;
  core: Core;
  /** Read by the Prisma plugin for the planned selections; every read is scoped like /v1's. */
  prisma: Db;
  /** How often a job-progress subscription looks at the job. */
  subscriptionPollMs: number;
}
