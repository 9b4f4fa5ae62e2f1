import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  badRequest,
  DomainError,
  type EndpointInterface,
  KeystoneClient,
  type Logger,
  OpenStackHttp,
  toDomainError,
} from '@backup-service/server';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { Agent, errors as undiciErrors, request as undiciRequest } from 'undici';
import { faultBody } from '../v1/faults.js';
import { FORWARDED_REQUEST_HEADERS, HOP_BY_HOP } from '../v1/passthrough.js';
import { CinderLocator } from './cinder-locator.js';
import { GATEWAY_ROUTES, type GatewayRoute, type GatewayUpstream } from './routes.js';

export interface GatewayOptions {
  logger: Logger;
  /** The backup service's base URL (without /v1). */
  backupUrl: string;
  /** Keystone v3, where the caller's token validates itself to find the caller's Cinder. */
  authUrl: string;
  interface?: EndpointInterface;
  region?: string;
  /** CINDER_URL instead of the token's catalog. */
  cinderUrl?: string;
  /** One upstream call's timeout (504 when exceeded). */
  timeoutMs: number;
  tokenCacheSeconds: number;
  /** The route table (default: the seed's, GATEWAY_ROUTES). */
  routes?: readonly GatewayRoute[];
}

/** Header on every answer the gateway relays, naming the service that gave it. */
export const UPSTREAM_HEADER = 'x-gateway-upstream';

/**
 * The reference API gateway (SPEC §5.7, seed §1.4 and §2.4) as an app factory: base path `/v1`,
 * each route of the table relayed to Cinder or the backup service with the caller's token, request
 * and answer streamed (never buffered), hop-by-hop headers dropped. Its own errors use the /v1
 * fault bodies; anything not in the table is 404 (or 405 for a known path with another method).
 */
export async function buildGatewayApp(options: GatewayOptions): Promise<FastifyInstance> {
  const routes = options.routes ?? GATEWAY_ROUTES;
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
  const keystoneHttp = new OpenStackHttp('keystone', { timeoutMs: options.timeoutMs, maxAttempts: 3 });
  const cinder = new CinderLocator({
    keystone: new KeystoneClient(options.authUrl.replace(/\/+$/, ''), keystoneHttp),
    interface: options.interface ?? 'public',
    region: options.region,
    cinderUrl: options.cinderUrl,
    cacheSeconds: options.tokenCacheSeconds,
  });
  const backupBase = options.backupUrl.replace(/\/+$/, '');

  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    genReqId: () => `req-${randomUUID()}`,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  app.addHook('onClose', async () => {
    await agent.close();
    await keystoneHttp.close();
  });
  // Bodies are relayed as they arrive.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.setErrorHandler((error: Error, request, reply) => {
    const domain = error instanceof DomainError ? error : toDomainError(error);
    const { status, body } = faultBody(domain.code, domain.message);
    if (status >= 500) request.log.error({ err: error }, 'gateway request failed');
    reply.header('x-openstack-request-id', request.id);
    if (status === 401) reply.header('www-authenticate', `Keystone uri="${options.authUrl}"`);
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = routes.filter((r) => patternOf(`/v1${r.path}`).test(path)).map((r) => r.method);
    reply.header('x-openstack-request-id', request.id);
    if (allowed.length > 0) {
      reply.header('allow', [...new Set(allowed)].join(', '));
      return reply.code(405).send({
        badMethod: { code: 405, message: `The method ${request.method} is not allowed for ${path}.` },
      });
    }
    const { status, body } = faultBody(
      'NOT_FOUND',
      `The resource could not be found: ${request.method} ${path}.`,
    );
    return reply.code(status).send(body);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  const relay = async (
    route: GatewayRoute,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> => {
    const id = (request.params as { id?: string }).id;
    const path = route.target.replace(':id', () => encodeURIComponent(checkedSegment(id)));
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const token = headerOf(request, 'x-auth-token');
    const base = route.upstream === 'cinder' ? await cinder.endpointFor(token) : backupBase;
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = headerOf(request, name);
      if (value !== undefined) headers[name] = value;
    }
    const body = request.body as Readable | undefined;
    const length = headerOf(request, 'content-length');
    if (body && length !== undefined) headers['content-length'] = length;
    const upstream = await send(route.upstream, `${base}${path}${query}`, route.method, headers, body);
    reply.code(upstream.statusCode);
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
    }
    reply.header(UPSTREAM_HEADER, route.upstream);
    return reply.send(upstream.body);
  };

  const send = async (
    upstream: GatewayUpstream,
    url: string,
    method: GatewayRoute['method'],
    headers: Record<string, string>,
    body: Readable | undefined,
  ) => {
    try {
      return await undiciRequest(url, {
        method,
        headers,
        body: body ?? null,
        dispatcher: agent,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
    } catch (error) {
      const timedOut =
        error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError;
      const name = upstream === 'cinder' ? 'Cinder' : 'The backup service';
      throw new DomainError(
        timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE',
        timedOut
          ? `${name} did not answer within ${options.timeoutMs} ms.`
          : `${name} is unreachable: ${(error as Error).message}.`,
        { cause: error },
      );
    }
  };

  for (const route of routes) {
    app.route({
      method: route.method,
      url: `/v1${route.path}`,
      exposeHeadRoute: false,
      handler: (request, reply) => relay(route, request, reply),
    });
  }
  return app;
}

/** A path parameter relayed as one segment: never a dot segment, never a slash. */
function checkedSegment(id: string | undefined): string {
  if (!id || id === '.' || id === '..' || id.includes('/') || id.includes('\\'))
    throw badRequest(`Invalid path segment ${JSON.stringify(id ?? '')}.`);
  return id;
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

const patterns = new Map<string, RegExp>();
function patternOf(path: string): RegExp {
  let pattern = patterns.get(path);
  if (!pattern) {
    pattern = new RegExp(`^${path.replace(/:id/g, '[^/]+')}/?$`);
    patterns.set(path, pattern);
  }
  return pattern;
}
