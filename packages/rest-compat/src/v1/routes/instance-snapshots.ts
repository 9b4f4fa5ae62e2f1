import { parseInstanceArtifactSort } from '@backup-service/server';
import type { FastifyInstance } from 'fastify';
import { nextLink } from '../actions.js';
import { baseUrl, callerOf, idParam, type V1Options } from '../context.js';
import { createInstanceSnapshotRequest, listInstanceArtifactsQuery } from '../schemas/instances.js';
import { parseOr400 } from '../validation.js';
import { instanceSnapshotView } from '../views/instances.js';

/** /v1/instance/snapshot — seed §2.1. */
export async function instanceSnapshotRoutes(app: FastifyInstance, { core }: V1Options) {
  const snapshots = core.instanceSnapshots;

  app.get('/instance/snapshot', async (request) => {
    const query = parseOr400(listInstanceArtifactsQuery, request.query, 'query string');
    const limit = query.limit || 1000;
    const { snapshots: rows, more } = await snapshots.list(callerOf(request), {
      page: { limit, marker: query.marker, sort: parseInstanceArtifactSort(query) },
      status: query.status,
      instanceId: query.instance_id,
      name: query.name,
      allTenants: query.all_tenants,
    });
    const base = baseUrl(request);
    const last = rows.at(-1);
    return {
      snapshots: rows.map((row) => instanceSnapshotView(row, base)),
      ...(more && last
        ? { snapshots_links: nextLink(base, '/instance/snapshot', request.query, limit, last.id) }
        : {}),
    };
  });

  app.get('/instance/snapshot/:id', async (request) => {
    const snapshot = await snapshots.get(callerOf(request), idParam(request, 'instance snapshot'));
    return { snapshot: instanceSnapshotView(snapshot, baseUrl(request)) };
  });

  app.post('/instance/snapshot', async (request, reply) => {
    const { snapshot: args } = parseOr400(createInstanceSnapshotRequest, request.body, 'request body');
    const snapshot = await snapshots.create(callerOf(request), args);
    reply.code(201);
    return { snapshot: instanceSnapshotView(snapshot, baseUrl(request)) };
  });

  app.delete('/instance/snapshot/:id', async (request, reply) => {
    const snapshot = await snapshots.delete(callerOf(request), idParam(request, 'instance snapshot'));
    reply.code(201);
    return { snapshot: { id: snapshot.id } };
  });
}
