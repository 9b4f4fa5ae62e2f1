import { type RenderedPage, VolumeBackupService } from '@backup-service/server';
import type { FastifyInstance } from 'fastify';
import { nextLink, singleAction } from '../actions.js';
import { baseUrl, callerOf, idParam, type V1Options } from '../context.js';
import {
  backupActions,
  createBackupRequest,
  importRepositoryRequest,
  listBackupsQuery,
} from '../schemas/volume-backups.js';
import { parseOr400 } from '../validation.js';
import { backupView } from '../views/volume-backups.js';

/** /v1/volume/backup — seed §1.2. */
export async function volumeBackupRoutes(app: FastifyInstance, { core }: V1Options) {
  const backups = core.volumeBackups;

  // The hot read of the API: one string of views from the domain (rendered by PostgreSQL, cached
  // while the project's backups do not change), sent as it is. The encoded body of the last URL
  // asked of a cached page is kept with the page (and dropped with it): repeated reads send the same
  // bytes without building or encoding them again.
  const encodedBodies = new WeakMap<RenderedPage, { url: string; body: Buffer }>();
  app.get('/volume/backup', async (request, reply) => {
    const query = parseOr400(listBackupsQuery, request.query, 'query string');
    const sort = VolumeBackupService.parseSort(query);
    const limit = query.limit || 1000;
    const base = baseUrl(request);
    const page = await backups.viewPage(
      callerOf(request),
      {
        page: { limit, marker: query.marker, sort },
        status: query.status,
        volumeId: query.volume_id,
        name: query.name,
        allTenants: query.all_tenants,
      },
      base,
    );
    reply.type('application/json; charset=utf-8');
    const encoded = encodedBodies.get(page);
    if (encoded?.url === request.url) return reply.send(encoded.body);
    const { views, lastId, more } = page;
    const links =
      more && lastId
        ? `,"backups_links":${JSON.stringify(nextLink(base, '/volume/backup', request.query, limit, lastId))}`
        : '';
    const body = Buffer.from(`{"backups":${views}${links}}`);
    encodedBodies.set(page, { url: request.url, body });
    return reply.send(body);
  });

  app.get('/volume/backup/:id', async (request) => {
    const backup = await backups.get(callerOf(request), idParam(request, 'backup'));
    return { backup: backupView(backup, baseUrl(request)) };
  });

  app.post('/volume/backup', async (request, reply) => {
    const { backup: args } = parseOr400(createBackupRequest, request.body, 'request body');
    const backup = await backups.create(callerOf(request), args);
    reply.code(201);
    return { backup: backupView(backup, baseUrl(request)) };
  });

  app.post('/volume/backup/:id/action', async (request, reply) => {
    const id = idParam(request, 'backup');
    const caller = callerOf(request);
    const [name, args] = singleAction(request.body, backupActions, 'Backup');
    reply.code(201);
    switch (name) {
      case 'update': {
        const backup = await backups.update(caller, id, parseOr400(backupActions.update, args, 'update'));
        return { backup: backupView(backup, baseUrl(request)) };
      }
      case 'restore':
        return {
          restore: await backups.restore(caller, id, parseOr400(backupActions.restore, args, 'restore')),
        };
      case 'verify': {
        parseOr400(backupActions.verify, args, 'verify');
        return { backup: backupView(await backups.verify(caller, id), baseUrl(request)) };
      }
      case 'reset_status':
      case 'os-reset_status': {
        const { status } = parseOr400(backupActions[name], args, name);
        return { backup: backupView(await backups.resetStatus(caller, id, status), baseUrl(request)) };
      }
      case 'os-force_delete': {
        parseOr400(backupActions[name], args, name);
        const backup = await backups.delete(caller, id, { force: true });
        return { backup: { id: backup.id } };
      }
    }
  });

  // Extension (admin): recovery without the database — the backups of a repository are recorded
  // again from its manifests, and the chunk index from its packs. Synchronous; safe to repeat.
  app.post('/volume/backup/import', async (request, reply) => {
    const { import: args } = parseOr400(importRepositoryRequest, request.body ?? {}, 'request body');
    const report = await core.recovery.importRepository(callerOf(request), {
      container: args?.container ?? null,
    });
    reply.code(201);
    return {
      import: {
        repository_id: report.repositoryId,
        repository_url: report.url,
        imported: report.imported,
        already_known: report.alreadyKnown,
        skipped: report.skipped.map((s) => ({ backup_id: s.backupId, reason: s.reason })),
        indexed_packs: report.index.indexedPacks,
        indexed_chunks: report.index.indexedChunks,
        damaged_packs: report.index.damagedPacks.map((d) => ({ pack_id: d.packId, reason: d.reason })),
      },
    };
  });

  app.delete('/volume/backup/:id', async (request, reply) => {
    const backup = await backups.delete(callerOf(request), idParam(request, 'backup'));
    reply.code(201);
    return { backup: { id: backup.id } };
  });
}
