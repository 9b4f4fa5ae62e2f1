import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callerOf, idParam, type V1Options } from '../context.js';
import { CinderPassthrough } from '../passthrough.js';
import { restoreVolumeRequest, rollbackRequest } from '../schemas/volumes.js';
import { parseOr400 } from '../validation.js';

const PASSTHROUGH_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST'] as const;

/**
 * /v1/volume: `POST /volume` with a `backup_id` and the `rollback` action are the service's (seed
 * §1.3); everything else is Cinder's, passed through.
 */
export async function volumeRoutes(app: FastifyInstance, options: V1Options) {
  const passthrough = new CinderPassthrough(options.core, options.passthroughTimeoutMs);
  app.addHook('onClose', () => passthrough.close());

  // These two read the (small) body to decide whether it is ours; Cinder's get it byte for byte.
  await app.register(async (inspected) => {
    inspected.removeAllContentTypeParsers();
    inspected.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    inspected.post('/volume', async (request, reply) => {
      const json = parseJson(request.body);
      if (!isRestoreRequest(json)) return passthrough.forward(request, reply, rawBody(request));
      const { volume: args } = parseOr400(restoreVolumeRequest, json, 'request body');
      const volume = await options.core.volumeBackups.restoreToNewVolume(callerOf(request), args);
      reply.code(201);
      return { volume };
    });

    inspected.post('/volume/:id/action', async (request, reply) => {
      const json = parseJson(request.body);
      if (!isObjectWith(json, 'rollback')) return passthrough.forward(request, reply, rawBody(request));
      const { rollback } = parseOr400(rollbackRequest, json, 'request body');
      const accepted = await options.core.volumeRollbacks.rollback(
        callerOf(request),
        idParam(request, 'volume'),
        rollback.snapshot_id,
      );
      reply.code(201);
      return { rollback: accepted };
    });
  });

  await app.register(async (streamed) => {
    streamed.removeAllContentTypeParsers();
    streamed.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    const forward = (request: FastifyRequest, reply: FastifyReply) =>
      passthrough.forward(request, reply, request.body as NodeJS.ReadableStream as never);
    streamed.route({
      method: PASSTHROUGH_METHODS.filter((m) => m !== 'POST'),
      url: '/volume',
      exposeHeadRoute: false,
      handler: forward,
    });
    streamed.route({
      method: [...PASSTHROUGH_METHODS],
      url: '/volume/*',
      exposeHeadRoute: false,
      handler: forward,
    });
  });
}

function rawBody(request: FastifyRequest): Buffer | undefined {
  return Buffer.isBuffer(request.body) ? request.body : undefined;
}

function parseJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isObjectWith(json: unknown, key: string): boolean {
  return typeof json === 'object' && json !== null && !Array.isArray(json) && key in json;
}

function isRestoreRequest(json: unknown): boolean {
  const volume = (json as { volume?: { backup_id?: unknown } } | undefined)?.volume;
  return (
    typeof volume === 'object' &&
    volume !== null &&
    volume.backup_id !== undefined &&
    volume.backup_id !== null
  );
}
