import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type PrismaTypes from '../generated/pothos/types.js';
import { getDatamodel } from '../generated/pothos/types.js';
import type { GraphQLContext } from './context.js';

/** Limits every operation must stay within (checked before any resolver runs). */
export const QUERY_LIMITS = { depth: 10, breadth: 150, complexity: 25_000 };

/**
 * The schema builder: Prisma plugin (planned selections, so a page and its relations load in a
 * fixed number of queries), Relay (nodes, global ids, cursor connections), complexity limits.
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ComplexityPlugin, RelayPlugin, PrismaPlugin],
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // A connection's cost is its page size (`first`/`last`) times its nodes'; edges add nothing more.
    edgesFieldOptions: { complexity: { field: 1, multiplier: 1 } },
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    defaultConnectionSize: 20,
    maxConnectionSize: 100,
  },
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 10,
    limit: QUERY_LIMITS,
  },
});
