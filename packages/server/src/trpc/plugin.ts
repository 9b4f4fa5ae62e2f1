import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Core } from '../core.js';
import type { TrpcContext } from './context.js';
import { type AppRouter, appRouter } from './router.js';

const SERVER_FAILURES = new Set(['INTERNAL_SERVER_ERROR', 'BAD_GATEWAY', 'GATEWAY_TIMEOUT']);

export interface TrpcOptions {
  core: Core;
}

/** `/trpc`: the router over HTTP (batching on), as Fastify routes under the mount's prefix. */
export function trpcPlugin(options: TrpcOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    await app.register(fastifyTRPCPlugin<AppRouter>, {
      prefix: '',
      trpcOptions: {
        router: appRouter,
        createContext: ({ req }): TrpcContext => {
          const token = req.headers['x-auth-token'];
          return { token: typeof token === 'string' ? token : undefined, core: options.core };
        },
        // As /v1: the service's failures (5xx) are logged; a caller's mistakes are not errors.
        onError({ error, path, req }) {
          if (SERVER_FAILURES.has(error.code))
            req.log.error({ err: error.cause ?? error, path }, 'tRPC call failed');
        },
      },
    });
  };
}
