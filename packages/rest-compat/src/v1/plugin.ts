import { DomainError, type DomainErrorCode, toDomainError } from '@backup-service/server';
import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { V1Options } from './context.js';
import { faultBody } from './faults.js';
import { instanceBackupRoutes } from './routes/instance-backups.js';
import { instanceSnapshotRoutes } from './routes/instance-snapshots.js';
import { openApiRoutes } from './routes/openapi.js';
import { volumeBackupRoutes } from './routes/volume-backups.js';
import { volumeRoutes } from './routes/volumes.js';

/**
 * The exact /v1 contract of the customer's design (seed §1–2): every request authenticated with
 * Keystone, every error a Cinder fault body, every answer with `x-openstack-request-id`.
 */
export function v1Plugin(options: V1Options): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.decorateRequest('caller', null);
    app.addHook('preHandler', async (request) => {
      // The contract's own description (openapi.json, the reference page) is readable by anyone.
      if (request.routeOptions.config.public) return;
      const token = request.headers['x-auth-token'];
      request.caller = await options.core.authenticator.authenticate(
        typeof token === 'string' ? token : undefined,
      );
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const domain = fromFastifyError(error) ?? toDomainError(error);
      const { status, body } = faultBody(domain.code, domain.message);
      if (status >= 500) request.log.error({ err: error }, 'request failed');
      // Cinder sends the compute request id header on faults as well.
      reply.header('x-compute-request-id', request.id);
      if (status === 401)
        reply.header('www-authenticate', `Keystone uri="${options.core.cloud.settings.authUrl}"`);
      return reply.code(status).send(body);
    });

    app.setNotFoundHandler((request, reply) => {
      const { status, body } = faultBody(
        'NOT_FOUND',
        `The resource could not be found: ${request.method} ${request.url}.`,
      );
      return reply.code(status).send(body);
    });

    await app.register(openApiRoutes);
    await app.register(volumeBackupRoutes, options);
    await app.register(volumeRoutes, options);
    await app.register(instanceSnapshotRoutes, options);
    await app.register(instanceBackupRoutes, options);
  };
}

/** Fastify's own 4xx (bad JSON, unsupported media type, body too large) in /v1's terms. */
function fromFastifyError(error: FastifyError): DomainError | undefined {
  if (error instanceof DomainError || !error.statusCode || error.statusCode >= 500) return undefined;
  const codes: Partial<Record<number, DomainErrorCode>> = { 413: 'PAYLOAD_TOO_LARGE', 404: 'NOT_FOUND' };
  const code = codes[error.statusCode] ?? 'BAD_REQUEST';
  const message =
    error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
      ? `Unsupported Content-Type ${JSON.stringify(String(error.message).replace(/^Unsupported Media Type: /, ''))}: send application/json.`
      : error.statusCode === 413
        ? 'Request is too large.'
        : `Malformed request body: ${error.message}.`;
  return new DomainError(code, message);
}
