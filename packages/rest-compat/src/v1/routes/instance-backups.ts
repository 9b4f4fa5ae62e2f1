import { parseInstanceArtifactSort } from '@backup-service/server';
import type { FastifyInstance } from 'fastify';
import { nextLink, singleAction } from '../actions.js';
import { baseUrl, callerOf, idParam, type V1Options } from '../context.js';
import {
  createInstanceBackupRequest,
  instanceBackupActions,
  listInstanceArtifactsQuery,
} from '../schemas/instances.js';
import { parseOr400 } from '../validation.js';
import { instanceBackupView } from '../views/instances.js';

/** /v1/instance/backup — seed §2.2. */
export async function instanceBackupRoutes(app: FastifyInstance, { core }: V1Options) {
  const backups = core.instanceBackups;

  app.get('/instance/backup', async (request) => {
    const query = parseOr400(listInstanceArtifactsQuery, request.query, 'query string');
    const limit = query.limit || 1000;
    const { backups: rows, more } = await backups.list(callerOf(request), {
      page: { limit, marker: query.marker, sort: parseInstanceArtifactSort(query) },
      status: query.status,
      instanceId: query.instance_id,
      name: query.name,
      allTenants: query.all_tenants,
    });
    const base = baseUrl(request);
    const last = rows.at(-1);
    return {
      backups: rows.map((row) => instanceBackupView(row, base)),
      ...(more && last
        ? { backups_links: nextLink(base, '/instance/backup', request.query, limit, last.id) }
        : {}),
    };
  });

  app.get('/instance/backup/:id', async (request) => {
    const backup = await backups.get(callerOf(request), idParam(request, 'instance backup'));
    return { backup: instanceBackupView(backup, baseUrl(request)) };
  });

  app.post('/instance/backup', async (request, reply) => {
    const { backup: args } = parseOr400(createInstanceBackupRequest, request.body, 'request body');
    const { force: _force, ...rest } = args;
    const backup = await backups.create(callerOf(request), rest);
    reply.code(201);
    return { backup: instanceBackupView(backup, baseUrl(request)) };
  });

  app.post('/instance/backup/:id/action', async (request, reply) => {
    const id = idParam(request, 'instance backup');
    const caller = callerOf(request);
    const [name, args] = singleAction(request.body, instanceBackupActions, 'Instance backup');
    reply.code(201);
    switch (name) {
      case 'update': {
        const backup = await backups.update(
          caller,
          id,
          parseOr400(instanceBackupActions.update, args, 'update'),
        );
        return { backup: instanceBackupView(backup, baseUrl(request)) };
      }
      case 'verify': {
        parseOr400(instanceBackupActions.verify, args, 'verify');
        return { backup: instanceBackupView(await backups.verify(caller, id), baseUrl(request)) };
      }
      case 'reset_status':
      case 'os-reset_status': {
        const { status } = parseOr400(instanceBackupActions[name], args, name);
        return {
          backup: instanceBackupView(await backups.resetStatus(caller, id, status), baseUrl(request)),
        };
      }
    }
  });

  app.delete('/instance/backup/:id', async (request, reply) => {
    const backup = await backups.delete(callerOf(request), idParam(request, 'instance backup'));
    reply.code(201);
    return { backup: { id: backup.id } };
  });
}
