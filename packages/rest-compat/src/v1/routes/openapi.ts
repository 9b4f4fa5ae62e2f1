import type { FastifyInstance } from 'fastify';
import { openApiDocument } from '../openapi.js';
import { renderReference } from '../openapi-reference.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a token (the API's own description). */
    public?: boolean;
  }
}

/** `/v1/openapi.json` and `/v1/reference`: the contract's description, readable without a token. */
export async function openApiRoutes(app: FastifyInstance) {
  let page: string | undefined;
  app.get('/openapi.json', { config: { public: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return openApiDocument();
  });
  app.get('/reference', { config: { public: true } }, async (_request, reply) => {
    page ??= renderReference(openApiDocument());
    reply.header('content-type', 'text/html; charset=utf-8');
    reply.header('cache-control', 'public, max-age=300');
    return page;
  });
}
