import { hasServiceToken, requireAuth } from '../common/auth.js';
import { ApiError, badRequest, cinderErrorBody, keystoneMiddleware401, notFound } from '../common/errors.js';
import type { Handler, Reply, RequestContext, Router } from '../common/http.js';
import { atLeast, CINDER_MV, mvString, negotiate, versionHeaders } from '../common/microversion.js';
import { nextHref, paginate } from '../common/pagination.js';
import type { Sim } from '../sim/context.js';
import { SNAPSHOT_STATUSES, type Snapshot, type SnapshotStatus, type Volume } from '../state/types.js';
import { VOLUME_ACTIONS } from './actions.js';
import {
  attachmentsOf,
  checkNovaUsage,
  completeAttachment,
  createAttachment,
  removeAttachment,
  updateAttachment,
} from './attachments.js';
import {
  findAttachment,
  findSnapshot,
  findVolume,
  invalidInput,
  requireAdmin,
  requireWriter,
} from './policy.js';
import { createSnapshot, deleteSnapshot } from './snapshots.js';
import {
  attachmentDetail,
  attachmentSummary,
  DEFAULT_VOLUME_TYPE,
  snapshotView,
  volumeDetail,
  volumeSummary,
} from './views.js';
import { createVolume, deleteVolume, parseMetadata, touch } from './volumes.js';

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** The `{"volume": {...}}`-style wrapper of a request body, or 400 naming the missing key. */
/**
 * The `{"<key>": {…}}` body of a create or update, checked as Cinder's JSON schemas check it — before
 * the resource is looked up and before policy — with Cinder 21's answers: `'<key>' is a required
 * property`, `… is not of type 'object'`, and 500 for no body at all (its schema decorator fails with
 * a KeyError then).
 */
async function wrapped(ctx: RequestContext, key: string): Promise<Record<string, unknown>> {
  const raw = await ctx.json();
  if (raw === undefined) {
    throw new ApiError(
      500,
      'The server has either erred or is incapable of performing the requested operation.',
    );
  }
  const body = obj(raw);
  if (!body) {
    throw badRequest(
      `Invalid input for field/attribute body. Value: ${JSON.stringify(raw)}. ${JSON.stringify(raw)} is not of type 'object'`,
    );
  }
  if (!(key in body)) throw badRequest(`'${key}' is a required property`);
  const inner = obj(body[key]);
  if (!inner) {
    const value = JSON.stringify(body[key]);
    throw badRequest(
      `Invalid input for field/attribute ${key}. Value: ${value}. ${value} is not of type 'object'`,
    );
  }
  return inner;
}

function versionsDoc(sim: Sim) {
  return {
    versions: [
      {
        id: 'v3.0',
        links: [
          { href: 'https://docs.openstack.org/', rel: 'describedby', type: 'text/html' },
          { href: `${sim.urls.cinder}/v3/`, rel: 'self' },
        ],
        'media-types': [
          { base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' },
        ],
        min_version: CINDER_MV.min,
        status: 'CURRENT',
        updated: '2023-08-31T00:00:00Z',
        version: CINDER_MV.max,
      },
    ],
  };
}

/** Negotiates the microversion for every /v3 request; the answer (errors too) echoes it. */
export function cinderPrepare(ctx: RequestContext): void {
  if (!ctx.path.startsWith('/v3/')) return;
  ctx.mv = negotiate(ctx.req.headers, CINDER_MV);
  Object.assign(ctx.responseHeaders, versionHeaders(CINDER_MV, ctx.mv));
}

export function cinderErrorReply(sim: Sim, ctx: RequestContext, status: number, message: string): Reply {
  // Fault responses also carry x-compute-request-id (cinder/api/openstack/wsgi.py).
  const headers = { 'x-compute-request-id': ctx.requestId };
  if (status === 401) {
    const r = keystoneMiddleware401(sim.urls.keystone);
    return { status, body: r.body, headers: { ...headers, ...r.headers } };
  }
  return { status, body: cinderErrorBody(status, message), headers };
}

const filterAllTenants = <T extends { project_id: string }>(ctx: RequestContext, items: T[]): T[] => {
  const auth = ctx.auth!;
  const all = auth.isAdmin && ['1', 'true', 'True'].includes(ctx.query.get('all_tenants') ?? '');
  if (!all) return items.filter((x) => x.project_id === auth.projectId);
  const project = ctx.query.get('project_id');
  return project ? items.filter((x) => x.project_id === project) : items;
};

export function cinderRoutes(router: Router, sim: Sim): void {
  router.add('GET', '/', () => ({ status: 300, body: versionsDoc(sim) }));
  router.add('GET', '/v3', () => ({ status: 200, body: versionsDoc(sim) }));

  /**
   * Registers a /v3 route with and without `{project_id}` (optional from 3.67). Every such request
   * needs a token; a URL project other than the token's is "Malformed request url" (400), as in
   * Cinder's wsgi layer.
   */
  const route = (method: string, sub: string, handler: Handler) => {
    const wrap =
      (withProject: boolean): Handler =>
      (ctx) => {
        const auth = requireAuth(ctx, sim.store);
        if (withProject) {
          if (ctx.params.project_id !== auth.projectId) throw badRequest('Malformed request url');
        } else if (!atLeast(ctx.mv, '3.67')) {
          throw notFound('The resource could not be found.');
        }
        return handler(ctx);
      };
    router.add(method, `/v3/:project_id${sub}`, wrap(true));
    router.add(method, `/v3${sub}`, wrap(false));
  };

  const base = (ctx: RequestContext, collection: string) =>
    `${sim.urls.cinder}/v3/${ctx.auth!.projectId}/${collection}`;
  const pageOpts = (what: string) => ({
    maxLimit: 1000,
    markerNotFound: (m: string) => notFound(`Marker ${m} could not be found.`),
    badLimit: () => invalidInput(`Invalid ${what} limit`),
  });

  // ---- volumes
  const listVolumes = (detail: boolean) => (ctx: RequestContext) => {
    let items = filterAllTenants(ctx, Object.values(sim.store.state.volumes));
    const name = ctx.query.get('name');
    const status = ctx.query.get('status');
    const bootable = ctx.query.get('bootable');
    if (name) items = items.filter((v) => v.name === name);
    if (status) items = items.filter((v) => v.status === status);
    if (bootable) items = items.filter((v) => String(v.bootable) === bootable.toLowerCase());
    const total = items.length;
    const page = paginate(
      items as unknown as Array<Volume & { [k: string]: unknown }>,
      ctx.query,
      pageOpts('volume'),
    );
    const body: Record<string, unknown> = {
      volumes: page.items.map((v) => (detail ? volumeDetail(sim, ctx, v, true) : volumeSummary(sim, ctx, v))),
    };
    if (page.fullAt) {
      const last = page.items[page.items.length - 1]!;
      body.volumes_links = [
        {
          href: nextHref(base(ctx, detail ? 'volumes/detail' : 'volumes'), ctx.query, page.fullAt, last.id),
          rel: 'next',
        },
      ];
    }
    if (atLeast(ctx.mv, '3.45') && ctx.query.get('with_count') === 'true') body.count = total;
    return { status: 200, body };
  };
  route('GET', '/volumes/detail', listVolumes(true));
  route('GET', '/volumes', listVolumes(false));
  route('POST', '/volumes', async (ctx) => {
    const input = await wrapped(ctx, 'volume');
    requireWriter(ctx.auth!, 'volume:create');
    const v = createVolume(sim, ctx.auth!, input);
    return { status: 202, body: { volume: volumeDetail(sim, ctx, v, false) } };
  });
  route('GET', '/volumes/:id', (ctx) => {
    const v = findVolume(sim, ctx.auth!, ctx.params.id!);
    return { status: 200, body: { volume: volumeDetail(sim, ctx, v, true) } };
  });
  route('PUT', '/volumes/:id', async (ctx) => {
    const input = await wrapped(ctx, 'volume');
    const v = findVolume(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:update');
    for (const key of Object.keys(input)) {
      if (!['name', 'description', 'metadata', 'display_name', 'display_description'].includes(key)) {
        throw badRequest(
          `Invalid input for field/attribute volume. Additional properties are not allowed ('${key}' was unexpected)`,
        );
      }
    }
    if ('name' in input || 'display_name' in input)
      v.name = (input.name ?? input.display_name ?? null) as string | null;
    if ('description' in input || 'display_description' in input) {
      v.description = (input.description ?? input.display_description ?? null) as string | null;
    }
    if ('metadata' in input) v.metadata = parseMetadata(input.metadata);
    touch(v);
    return { status: 200, body: { volume: volumeDetail(sim, ctx, v, false) } };
  });
  route('DELETE', '/volumes/:id', (ctx) => {
    const v = findVolume(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:delete');
    deleteVolume(sim, v, { cascade: ctx.query.get('cascade') === 'true', force: false });
    return { status: 202 };
  });
  route('POST', '/volumes/:id/action', async (ctx) => {
    const v = findVolume(sim, ctx.auth!, ctx.params.id!);
    const body = obj(await ctx.json());
    const [name, ...rest] = Object.keys(body ?? {});
    if (!name || rest.length > 0) throw badRequest('Malformed request body');
    const action = VOLUME_ACTIONS[name];
    if (!action) throw badRequest(`There is no such action: ${name}`);
    return action(sim, ctx, v, obj(body![name]) ?? {});
  });
  route('GET', '/volumes/:id/metadata', (ctx) => {
    const v = findVolume(sim, ctx.auth!, ctx.params.id!);
    return { status: 200, body: { metadata: v.metadata } };
  });
  route('POST', '/volumes/:id/metadata', async (ctx) => {
    const v = findVolume(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:update_volume_metadata');
    const body = obj(await ctx.json());
    v.metadata = { ...v.metadata, ...parseMetadata(body?.metadata) };
    touch(v);
    return { status: 200, body: { metadata: v.metadata } };
  });

  // ---- snapshots
  const listSnapshots = (detail: boolean) => (ctx: RequestContext) => {
    let items = filterAllTenants(ctx, Object.values(sim.store.state.snapshots));
    const volumeId = ctx.query.get('volume_id');
    const status = ctx.query.get('status');
    const name = ctx.query.get('name');
    if (volumeId) items = items.filter((s) => s.volume_id === volumeId);
    if (status) items = items.filter((s) => s.status === status);
    if (name) items = items.filter((s) => s.name === name);
    const total = items.length;
    const page = paginate(
      items as unknown as Array<Snapshot & { [k: string]: unknown }>,
      ctx.query,
      pageOpts('snapshot'),
    );
    const body: Record<string, unknown> = {
      snapshots: page.items.map((s) => snapshotView(ctx, s, { extended: detail, detail })),
    };
    if (page.fullAt) {
      const last = page.items[page.items.length - 1]!;
      body.snapshots_links = [
        {
          href: nextHref(
            base(ctx, detail ? 'snapshots/detail' : 'snapshots'),
            ctx.query,
            page.fullAt,
            last.id,
          ),
          rel: 'next',
        },
      ];
    }
    if (atLeast(ctx.mv, '3.45') && ctx.query.get('with_count') === 'true') body.count = total;
    return { status: 200, body };
  };
  route('GET', '/snapshots/detail', listSnapshots(true));
  route('GET', '/snapshots', listSnapshots(false));
  route('POST', '/snapshots', async (ctx) => {
    const input = await wrapped(ctx, 'snapshot');
    requireWriter(ctx.auth!, 'volume:create_snapshot');
    if (typeof input.volume_id !== 'string') throw badRequest("'volume_id' is a required property");
    const v = findVolume(sim, ctx.auth!, input.volume_id);
    const s = await createSnapshot(sim, ctx.auth!, v, input);
    return { status: 202, body: { snapshot: snapshotView(ctx, s, { extended: false, detail: true }) } };
  });
  route('GET', '/snapshots/:id', (ctx) => {
    const s = findSnapshot(sim, ctx.auth!, ctx.params.id!);
    return { status: 200, body: { snapshot: snapshotView(ctx, s, { extended: true, detail: true }) } };
  });
  route('PUT', '/snapshots/:id', async (ctx) => {
    const input = await wrapped(ctx, 'snapshot');
    const s = findSnapshot(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:update_snapshot');
    if ('name' in input) s.name = (input.name ?? null) as string | null;
    if ('description' in input) s.description = (input.description ?? null) as string | null;
    touch(s);
    return { status: 200, body: { snapshot: snapshotView(ctx, s, { extended: false, detail: true }) } };
  });
  route('DELETE', '/snapshots/:id', (ctx) => {
    const s = findSnapshot(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:delete_snapshot');
    deleteSnapshot(sim, s, false);
    return { status: 202 };
  });
  route('POST', '/snapshots/:id/action', async (ctx) => {
    const s = findSnapshot(sim, ctx.auth!, ctx.params.id!);
    const body = obj(await ctx.json()) ?? {};
    if ('os-reset_status' in body) {
      requireAdmin(ctx.auth!, 'volume_extension:snapshot_admin_actions:reset_status');
      const status = obj(body['os-reset_status'])?.status;
      if (!(SNAPSHOT_STATUSES as readonly unknown[]).includes(status))
        throw invalidInput(`Invalid status ${String(status)}`);
      s.status = status as SnapshotStatus;
      touch(s);
      return { status: 202 };
    }
    if ('os-force_delete' in body) {
      requireAdmin(ctx.auth!, 'volume_extension:snapshot_admin_actions:force_delete');
      deleteSnapshot(sim, s, true);
      return { status: 202 };
    }
    throw badRequest(`There is no such action: ${Object.keys(body)[0] ?? ''}`);
  });

  // ---- attachments (3.27+)
  const needMv = (ctx: RequestContext, min: string) => {
    if (!atLeast(ctx.mv, min))
      throw notFound(`API version ${mvString(ctx.mv)} is not supported on this method.`);
  };
  const listAttachments = (detail: boolean) => (ctx: RequestContext) => {
    needMv(ctx, '3.27');
    let items = filterAllTenants(
      ctx,
      Object.values(sim.store.state.attachments).map((a) => ({ ...a, created_at: a.attach_time ?? '' })),
    );
    const volumeId = ctx.query.get('volume_id');
    const instance = ctx.query.get('instance_id');
    if (volumeId) items = items.filter((a) => a.volume_id === volumeId);
    if (instance) items = items.filter((a) => a.instance_uuid === instance);
    const page = paginate(items, ctx.query, pageOpts('attachment'));
    return {
      status: 200,
      body: { attachments: page.items.map((a) => (detail ? attachmentDetail(a) : attachmentSummary(a))) },
    };
  };
  route('GET', '/attachments/detail', listAttachments(true));
  route('GET', '/attachments', listAttachments(false));
  route('POST', '/attachments', async (ctx) => {
    needMv(ctx, '3.27');
    const input = await wrapped(ctx, 'attachment');
    requireWriter(ctx.auth!, 'volume:attachment_create');
    if ('mode' in input && !atLeast(ctx.mv, '3.54')) {
      throw badRequest(
        "Invalid input for field/attribute attachment. Additional properties are not allowed ('mode' was unexpected)",
      );
    }
    if (typeof input.volume_uuid !== 'string') throw badRequest("'volume_uuid' is a required property");
    const v = findVolume(sim, ctx.auth!, input.volume_uuid);
    const connector = obj(input.connector) ?? null;
    const mode = input.mode === 'ro' || connector?.mode === 'ro' ? 'ro' : 'rw';
    const a = createAttachment(sim, ctx.auth!.projectId, v, {
      instanceUuid: typeof input.instance_uuid === 'string' ? input.instance_uuid : null,
      connector,
      mode,
    });
    return { status: 200, body: { attachment: attachmentDetail(a) } };
  });
  route('GET', '/attachments/:id', (ctx) => {
    needMv(ctx, '3.27');
    return {
      status: 200,
      body: { attachment: attachmentDetail(findAttachment(sim, ctx.auth!, ctx.params.id!)) },
    };
  });
  route('PUT', '/attachments/:id', async (ctx) => {
    needMv(ctx, '3.27');
    const input = await wrapped(ctx, 'attachment');
    const a = findAttachment(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:attachment_update');
    const connector = obj(input.connector);
    if (!connector) throw badRequest("'connector' is a required property");
    updateAttachment(sim, a, sim.store.state.volumes[a.volume_id]!, connector);
    return { status: 200, body: { attachment: attachmentDetail(a) } };
  });
  route('POST', '/attachments/:id/action', async (ctx) => {
    needMv(ctx, '3.44');
    const a = findAttachment(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:attachment_complete');
    const body = obj(await ctx.json()) ?? {};
    if (!('os-complete' in body)) throw badRequest(`There is no such action: ${Object.keys(body)[0] ?? ''}`);
    completeAttachment(sim, a, sim.store.state.volumes[a.volume_id]!);
    return { status: 204 };
  });
  route('DELETE', '/attachments/:id', (ctx) => {
    needMv(ctx, '3.27');
    const a = findAttachment(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'volume:attachment_delete');
    checkNovaUsage(sim, a, hasServiceToken(ctx, sim.store));
    removeAttachment(sim, a);
    return { status: 200, body: { attachments: attachmentsOf(sim, a.volume_id).map(attachmentSummary) } };
  });

  // ---- small read-only collections clients look at
  const volumeType = {
    id: DEFAULT_VOLUME_TYPE.id,
    name: DEFAULT_VOLUME_TYPE.name,
    description: 'Default Volume Type',
    is_public: true,
    'os-volume-type-access:is_public': true,
    extra_specs: {},
    qos_specs_id: null,
  };
  route('GET', '/types', () => ({ status: 200, body: { volume_types: [volumeType] } }));
  route('GET', '/types/default', () => ({ status: 200, body: { volume_type: volumeType } }));
  route('GET', '/types/:id', (ctx) => {
    if (ctx.params.id !== volumeType.id && ctx.params.id !== volumeType.name) {
      throw notFound(`Volume type ${ctx.params.id} could not be found.`);
    }
    return { status: 200, body: { volume_type: volumeType } };
  });
  route('GET', '/os-availability-zone', () => ({
    status: 200,
    body: { availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true } }] },
  }));
  route('GET', '/extensions', () => ({ status: 200, body: { extensions: [] } }));
  route('GET', '/limits', (ctx) => {
    const mine = Object.values(sim.store.state.volumes).filter((v) => v.project_id === ctx.auth!.projectId);
    return {
      status: 200,
      body: {
        limits: {
          rate: [],
          absolute: {
            maxTotalVolumes: 1000,
            maxTotalSnapshots: 1000,
            maxTotalVolumeGigabytes: 100000,
            totalVolumesUsed: mine.length,
            totalGigabytesUsed: mine.reduce((n, v) => n + v.size, 0),
          },
        },
      },
    };
  });
}
