import type { Readable } from 'node:stream';
import { badRequest, type Core, DomainError } from '@backup-service/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, errors as undiciErrors, request as undiciRequest } from 'undici';
import { callerOf } from './context.js';

/** Request headers that reach Cinder (SPEC §5.4); everything else stays here. */
export const FORWARDED_REQUEST_HEADERS = [
  'x-auth-token',
  'openstack-api-version',
  'content-type',
  'accept',
  'x-openstack-request-id',
];

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, not the message's: never relayed. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Everything under /v1/volume that the service does not handle goes to Cinder's /volumes on the
 * caller's project, with the caller's token: method, path, query and body as sent, Cinder's status,
 * headers and body back unchanged and streamed. Cinder unreachable: 502; too slow: 504.
 */
export class CinderPassthrough {
  private readonly agent: Agent;

  constructor(
    private readonly core: Core,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 64, pipelining: 1 });
  }

  async forward(
    request: FastifyRequest,
    reply: FastifyReply,
    body?: Buffer | Readable,
  ): Promise<FastifyReply> {
    // Cinder answers a create, update or action without a body with a 500 (its schema check fails
    // with a KeyError); the caller made the mistake, so it hears a 400 that says so.
    if ((request.method === 'POST' || request.method === 'PUT') && isEmptyBody(request, body)) {
      throw badRequest(`Malformed request body: ${request.method} needs a JSON body.`);
    }
    const caller = callerOf(request);
    const endpoint = this.core.cloud.cinderEndpoint(caller);
    const target = cinderUrl(endpoint, request.url);
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    else if (body && typeof request.headers['content-length'] === 'string')
      headers['content-length'] = request.headers['content-length'];

    let upstream: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      upstream = await undiciRequest(target, {
        method: request.method as 'GET',
        headers,
        body: body ?? null,
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (error) {
      const timedOut =
        error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError;
      throw new DomainError(
        timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE',
        timedOut
          ? `Cinder did not answer within ${this.timeoutMs} ms.`
          : `Cinder is unreachable: ${(error as Error).message}.`,
        { cause: error },
      );
    }
    reply.code(upstream.statusCode);
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
    }
    return reply.send(upstream.body);
  }

  close() {
    return this.agent.close();
  }
}

function isEmptyBody(request: FastifyRequest, body: Buffer | Readable | undefined): boolean {
  if (Buffer.isBuffer(body)) return body.length === 0;
  const length = request.headers['content-length'];
  if (length !== undefined) return Number(length) === 0;
  return !body || request.headers['transfer-encoding'] === undefined;
}

/**
 * `/v1/volume<rest>` → `<cinder endpoint>/volumes<rest>`. The result must stay inside the endpoint's
 * /volumes tree: dot segments and encoded slashes are refused, so the passthrough reaches nothing but
 * Cinder's volumes API.
 */
export function cinderUrl(endpoint: string, requestUrl: string): string {
  const match = /^\/v1\/volume(?<rest>[/?].*)?$/.exec(requestUrl);
  if (!match) throw badRequest('Invalid path.');
  const rest = match.groups?.rest ?? '';
  const [path = '', query] = splitOnce(rest, '?');
  const segments = path.split('/').slice(1);
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw badRequest(`Invalid path segment ${JSON.stringify(segment)}.`);
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\')) {
      throw badRequest(`Invalid path segment ${JSON.stringify(segment)}.`);
    }
  }
  const base = new URL(`${endpoint.replace(/\/+$/, '')}/volumes`);
  const url = new URL(`${base.href}${path}${query === undefined ? '' : `?${query}`}`);
  if (
    url.origin !== base.origin ||
    !(url.pathname === base.pathname || url.pathname.startsWith(`${base.pathname}/`))
  ) {
    throw badRequest('Invalid path.');
  }
  return url.href;
}

function splitOnce(value: string, separator: string): [string, string | undefined] {
  const index = value.indexOf(separator);
  return index < 0 ? [value, undefined] : [value.slice(0, index), value.slice(index + 1)];
}
