import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Core } from '../core.js';
import type { Db } from '../db/client.js';
import { DomainError } from '../domain/errors.js';
import type { Logger } from '../observability/logger.js';
import type { GraphQLContext } from './context.js';
import { GRAPHQL_CODES, maskError } from './errors.js';
import { schema } from './schema/index.js';

export interface GraphQLOptions {
  core: Core;
  /** The Prisma client the schema's planned reads use. */
  prisma: Db;
  logger: Logger;
  /** How often a job-progress subscription reads the job (default 500 ms). */
  subscriptionPollMs?: number;
}

export type GraphQLHandler = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

/**
 * `/graphql` as a fetch handler (tests call `handler.fetch` in process; the Fastify plugin mounts it).
 * Every operation needs a valid X-Auth-Token (401 otherwise); GraphiQL, the page, does not.
 */
export function createGraphQLHandler(options: GraphQLOptions): GraphQLHandler {
  const log = options.logger.child({ component: 'graphql' });
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: { maskError },
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      // Yoga logs every error it masks; a caller's mistake (4xx) is no error of the service's.
      error: (...args) => {
        const err = args.find((arg) => arg instanceof Error);
        if (isCallersError(err)) log.debug({ err }, 'GraphQL request refused');
        else log.error({ err }, args.map(String).join(' '));
      },
    },
    graphiql: {
      title: 'Backup service — GraphQL',
      headers: JSON.stringify({ 'X-Auth-Token': '<a Keystone token>' }, null, 2),
      subscriptionsProtocol: 'SSE',
    },
    // GraphiQL's page with its scripts inlined (from node_modules), loaded only when asked for.
    renderGraphiQL: async (graphiql) =>
      (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiql),
    context: async ({ request }) => ({
      caller: await options.core.authenticator.authenticate(request.headers.get('x-auth-token') ?? undefined),
      core: options.core,
      prisma: options.prisma,
      subscriptionPollMs: options.subscriptionPollMs ?? 500,
    }),
  });
}

function isCallersError(error: Error | undefined): boolean {
  const original = (error as { originalError?: unknown } | undefined)?.originalError ?? error;
  return original instanceof DomainError && GRAPHQL_CODES[original.code].status < 500;
}
