import { builder } from '../builder.js';
import './scalars.js';
import './volume-backups.js';
import './jobs.js';
import './volumes.js';
import './instance-snapshots.js';
import './instance-backups.js';
import './repositories.js';

builder.queryType({
  description: 'Reads: backups, snapshots, jobs and repositories, scoped to the caller as /v1.',
});
builder.mutationType({ description: 'Every operation of /v1, over the same domain services.' });
builder.subscriptionType({ description: 'Job progress (GraphQL over SSE).' });

export const schema = builder.toSchema({ sortSchema: true });
