import { badRequest, type Caller, type Core } from '@backup-service/server';
import type { FastifyRequest } from 'fastify';
import { uuid } from './schemas/common.js';

export interface V1Options {
  core: Core;
  /** Timeout of a passthrough call to Cinder (504 when exceeded). */
  passthroughTimeoutMs: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new Error('route registered outside the authenticated /v1 scope');
  return request.caller;
}

/** The scheme and host the caller used, for links in responses. */
export function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

export function idParam(request: FastifyRequest, what: string): string {
  const { id } = request.params as { id: string };
  if (!uuid.safeParse(id).success)
    throw badRequest(`Invalid ${what} id ${JSON.stringify(id)}: expected a UUID.`);
  return id;
}
