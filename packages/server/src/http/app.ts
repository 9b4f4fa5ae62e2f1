import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { requestIdFor } from './request-id.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface HttpAppOptions {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  /** The transports, each mounted under its prefix. */
  mounts?: Partial<Record<'/v1' | '/trpc' | '/graphql', FastifyPluginAsync>>;
  bodyLimitBytes?: number;
}

/** Probes and scrapes arrive every few seconds; logging each would drown the log. */
const isProbe = (request: FastifyRequest) => /^\/(healthz|readyz|metrics)(\?|$)/.test(request.url);

/**
 * The API's HTTP server, without listening: tests inject requests, main.ts listens.
 * Fastify: maintained, fast, schema-free where we validate with zod ourselves, with pino built in,
 * in-process `inject` for tests, and raw stream access for the Cinder passthrough.
 */
export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'req_id', disableRequestLogging: isProbe }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-openstack-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    options.metrics.httpRequestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      options.readiness.map(async ({ name, check }) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, `failing: ${(error as Error).message}`] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results) };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });

  for (const [prefix, plugin] of Object.entries(options.mounts ?? {})) {
    if (plugin) await app.register(plugin, { prefix });
  }
  return app;
}
