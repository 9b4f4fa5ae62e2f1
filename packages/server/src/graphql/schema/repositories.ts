import type { RepositoryStatistics } from '../../domain/repository-stats.js';
import { builder } from '../builder.js';

const RepositoryStats = builder.objectRef<RepositoryStatistics>('RepositoryStats').implement({
  description: 'A backup repository: how much it holds and how much deduplication and compression save.',
  fields: (t) => ({
    id: t.exposeString('id'),
    url: t.exposeString('url', { description: 'Where it is (a password in the URL replaced).' }),
    backupCount: t.exposeInt('backupCount', {
      description: 'Backups whose data it holds (available or being restored from).',
    }),
    logicalBytes: t.exposeFloat('logicalBytes', {
      description: 'Non-zero bytes of the volumes those backups describe, added up.',
    }),
    storedBytes: t.exposeFloat('storedBytes', {
      description: 'Bytes its packs take (after deduplication and compression).',
    }),
    dedupRatio: t.exposeFloat('dedupRatio', {
      nullable: true,
      description: 'logicalBytes / storedBytes (null while empty).',
    }),
    chunkCount: t.exposeInt('chunkCount'),
    packCount: t.exposeInt('packCount'),
  }),
});

builder.queryFields((t) => ({
  repositoryStats: t.field({
    type: [RepositoryStats],
    description: 'Every backup repository (admin: they are shared by all projects).',
    resolve: (_root, _args, ctx) => ctx.core.repositoryStats.list(ctx.caller),
  }),
}));
