import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/index.js';

// graphql as Node loads it for Pothos (its CommonJS build): Vite would give this file the ES build,
// another "realm" whose printSchema refuses the schema's types.
const { printSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

// The GraphQL schema dashboards are written against, printed: a change to it shows in review as a
// change to test/__snapshots__/schema.graphql.snap (SDL; update with `vitest run -u`).

describe('the GraphQL schema', () => {
  it('is the one checked in', async () => {
    await expect(printSchema(schema)).toMatchFileSnapshot('./__snapshots__/schema.graphql.snap');
  });

  it('has relay connections with filters and ordering, node lookups, mutations and a subscription', () => {
    const query = schema.getQueryType()?.getFields() ?? {};
    for (const connection of ['volumeBackups', 'instanceSnapshots', 'instanceBackups', 'jobs']) {
      const field = query[connection];
      expect(field?.type.toString(), connection).toMatch(/Connection!?$/);
      expect(field?.args.map((a) => a.name)).toEqual(
        expect.arrayContaining(['first', 'after', 'last', 'before', 'filter', 'orderBy', 'allTenants']),
      );
    }
    expect(Object.keys(query)).toEqual(
      expect.arrayContaining(['node', 'nodes', 'restorePoints', 'repositoryStats']),
    );
    const mutations = Object.keys(schema.getMutationType()?.getFields() ?? {});
    expect(mutations.sort()).toEqual(
      [
        'createInstanceBackup',
        'createInstanceSnapshot',
        'createVolumeBackup',
        'createVolumeFromBackup',
        'deleteInstanceBackup',
        'deleteInstanceSnapshot',
        'deleteVolumeBackup',
        'resetInstanceBackupStatus',
        'resetVolumeBackupStatus',
        'restoreVolumeBackup',
        'rollbackVolume',
        'updateInstanceBackup',
        'updateInstanceSnapshot',
        'updateVolumeBackup',
        'verifyInstanceBackup',
        'verifyVolumeBackup',
      ].sort(),
    );
    expect(Object.keys(schema.getSubscriptionType()?.getFields() ?? {})).toEqual(['jobProgress']);
  });
});
