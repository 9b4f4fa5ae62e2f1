import { requireAuth } from '../common/auth.js';
import { badRequest, keystoneMiddleware401, notFound, novaErrorBody } from '../common/errors.js';
import type { Handler, Reply, RequestContext, Router } from '../common/http.js';
import { atLeast, NOVA_MV, negotiate, versionHeaders } from '../common/microversion.js';
import { nextHref, paginate } from '../common/pagination.js';
import type { Sim } from '../sim/context.js';
import type { Server } from '../state/types.js';
import { SERVER_ACTIONS } from './actions.js';
import { FLAVORS, flavorDetail, flavorSummary, getFlavor } from './flavors.js';
import { checkLock, findServer, requireWriter } from './policy.js';
import { createServer, touchServer } from './servers.js';
import { serverDetail, serverStatus, serverSummary, volumeAttachmentView, volumeBdms } from './views.js';
import { attachVolume, detachVolume } from './volume-attachments.js';

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function versionDoc(sim: Sim) {
  return {
    id: 'v2.1',
    links: [
      { href: `${sim.urls.nova}/v2.1/`, rel: 'self' },
      { href: 'http://docs.openstack.org/', rel: 'describedby', type: 'text/html' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
    status: 'CURRENT',
    version: NOVA_MV.max,
    min_version: NOVA_MV.min,
    updated: '2013-07-23T11:33:21Z',
  };
}

export function novaPrepare(ctx: RequestContext): void {
  // Nova's compute_req_id middleware sets both request-id headers on everything.
  ctx.responseHeaders['x-compute-request-id'] = ctx.requestId;
  if (!ctx.path.startsWith('/v2.1/')) return;
  ctx.mv = negotiate(ctx.req.headers, NOVA_MV);
  Object.assign(ctx.responseHeaders, versionHeaders(NOVA_MV, ctx.mv));
}

export function novaErrorReply(sim: Sim, ctx: RequestContext, status: number, message: string): Reply {
  const headers = { 'x-compute-request-id': ctx.requestId };
  if (status === 401) {
    const r = keystoneMiddleware401(sim.urls.keystone);
    return { status, body: r.body, headers: { ...headers, ...r.headers } };
  }
  return { status, body: novaErrorBody(status, message), headers };
}

export function novaRoutes(router: Router, sim: Sim): void {
  router.add('GET', '/', () => ({
    status: 200,
    body: {
      versions: [
        {
          id: 'v2.0',
          links: [{ href: `${sim.urls.nova}/v2/`, rel: 'self' }],
          status: 'DEPRECATED',
          version: '',
          min_version: '',
          updated: '2025-07-04T12:00:00Z',
        },
        {
          id: 'v2.1',
          links: [{ href: `${sim.urls.nova}/v2.1/`, rel: 'self' }],
          status: 'CURRENT',
          version: NOVA_MV.max,
          min_version: NOVA_MV.min,
          updated: '2013-07-23T11:33:21Z',
        },
      ],
    },
  }));
  router.add('GET', '/v2.1', () => ({ status: 200, body: { version: versionDoc(sim) } }));

  /** With or without the legacy `{project_id}` segment; a foreign project id is a malformed URL. */
  const route = (method: string, sub: string, handler: Handler) => {
    const wrap =
      (withProject: boolean): Handler =>
      (ctx) => {
        const auth = requireAuth(ctx, sim.store);
        if (withProject && ctx.params.project_id !== auth.projectId) {
          throw badRequest(
            `Malformed request URL: URL's project_id '${ctx.params.project_id}' doesn't match Context's project_id '${auth.projectId}'`,
          );
        }
        return handler(ctx);
      };
    router.add(method, `/v2.1${sub}`, wrap(false));
    router.add(method, `/v2.1/:project_id${sub}`, wrap(true));
  };

  // ---- flavors
  route('GET', '/flavors/detail', (ctx) => ({
    status: 200,
    body: { flavors: FLAVORS.map((f) => flavorDetail(sim, ctx, f)) },
  }));
  route('GET', '/flavors', (ctx) => ({
    status: 200,
    body: { flavors: FLAVORS.map((f) => flavorSummary(sim, ctx, f)) },
  }));
  route('GET', '/flavors/:id', (ctx) => ({
    status: 200,
    body: { flavor: flavorDetail(sim, ctx, getFlavor(ctx.params.id!)) },
  }));
  route('GET', '/flavors/:id/os-extra_specs', (ctx) => {
    getFlavor(ctx.params.id!);
    return { status: 200, body: { extra_specs: {} } };
  });

  // ---- servers
  const listServers = (detail: boolean) => (ctx: RequestContext) => {
    const auth = ctx.auth!;
    const allTenants = auth.isAdmin && ctx.query.has('all_tenants') && ctx.query.get('all_tenants') !== '0';
    let items = Object.values(sim.store.state.servers);
    if (!allTenants) items = items.filter((s) => s.project_id === auth.projectId);
    const project = ctx.query.get('project_id') ?? ctx.query.get('tenant_id');
    if (allTenants && project) items = items.filter((s) => s.project_id === project);
    const name = ctx.query.get('name');
    if (name) {
      const re = new RegExp(name);
      items = items.filter((s) => re.test(s.name));
    }
    const status = ctx.query.get('status');
    if (status) items = items.filter((s) => serverStatus(s) === status.toUpperCase());
    const image = ctx.query.get('image');
    if (image) items = items.filter((s) => s.image_id === image);
    const page = paginate(items as unknown as Array<Server & { [k: string]: unknown }>, ctx.query, {
      maxLimit: 1000,
      markerNotFound: (m) => badRequest(`marker [${m}] not found`),
    });
    const body: Record<string, unknown> = {
      servers: page.items.map((s) => (detail ? serverDetail(sim, ctx, s) : serverSummary(sim, s))),
    };
    if (page.fullAt) {
      const last = page.items[page.items.length - 1]!;
      body.servers_links = [
        {
          href: nextHref(
            `${sim.urls.nova}/v2.1/servers${detail ? '/detail' : ''}`,
            ctx.query,
            page.fullAt,
            last.id,
          ),
          rel: 'next',
        },
      ];
    }
    return { status: 200, body };
  };
  route('GET', '/servers/detail', listServers(true));
  route('GET', '/servers', listServers(false));
  route('POST', '/servers', async (ctx) => {
    requireWriter(ctx.auth!, 'os_compute_api:servers:create');
    const body = obj(await ctx.json());
    if (!body) throw badRequest('The request body is invalid');
    const s = createServer(sim, ctx.auth!, ctx.mv, body);
    const summary = serverSummary(sim, s);
    return {
      status: 202,
      headers: { location: summary.links[0]!.href },
      body: {
        server: {
          id: s.id,
          links: summary.links,
          'OS-DCF:diskConfig': 'MANUAL',
          security_groups: [{ name: 'default' }],
          adminPass: Math.random().toString(36).slice(2, 14),
        },
      },
    };
  });
  route('GET', '/servers/:id', (ctx) => ({
    status: 200,
    body: { server: serverDetail(sim, ctx, findServer(sim, ctx.auth!, ctx.params.id!), true) },
  }));
  route('PUT', '/servers/:id', async (ctx) => {
    const s = findServer(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'os_compute_api:servers:update');
    const input = obj(obj(await ctx.json())?.server);
    if (!input) throw badRequest("Invalid input for field/attribute server. 'server' is a required property");
    if (typeof input.name === 'string') s.name = input.name;
    if ('description' in input && atLeast(ctx.mv, '2.19'))
      s.description = (input.description ?? null) as string | null;
    touchServer(s);
    return { status: 200, body: { server: serverDetail(sim, ctx, s, true) } };
  });
  route('DELETE', '/servers/:id', (ctx) => {
    const s = findServer(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'os_compute_api:servers:delete');
    checkLock(ctx.auth!, s);
    s.task_state = 'deleting';
    touchServer(s);
    sim.scheduler.schedule('server.delete', s.id);
    return { status: 204 };
  });
  route('POST', '/servers/:id/action', async (ctx) => {
    const s = findServer(sim, ctx.auth!, ctx.params.id!);
    const body = obj(await ctx.json());
    const [name, ...rest] = Object.keys(body ?? {});
    if (!name || rest.length > 0) throw badRequest('Malformed request body');
    const action = SERVER_ACTIONS[name];
    if (!action) throw badRequest(`There is no such action: ${name}`);
    return action(sim, ctx, s, body![name]);
  });
  route('GET', '/servers/:id/metadata', (ctx) => ({
    status: 200,
    body: { metadata: findServer(sim, ctx.auth!, ctx.params.id!).metadata },
  }));

  // ---- os-volume_attachments
  route('GET', '/servers/:id/os-volume_attachments', (ctx) => {
    const s = findServer(sim, ctx.auth!, ctx.params.id!);
    return {
      status: 200,
      body: { volumeAttachments: volumeBdms(s).map((b) => volumeAttachmentView(ctx, s, b)) },
    };
  });
  route('GET', '/servers/:id/os-volume_attachments/:volume_id', (ctx) => {
    const s = findServer(sim, ctx.auth!, ctx.params.id!);
    const b = volumeBdms(s).find((x) => x.volume_id === ctx.params.volume_id);
    if (!b) throw notFound(`Volume ${ctx.params.volume_id} is not attached to server ${s.id}`);
    return { status: 200, body: { volumeAttachment: volumeAttachmentView(ctx, s, b) } };
  });
  route('POST', '/servers/:id/os-volume_attachments', async (ctx) => {
    const s = findServer(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'os_compute_api:os-volumes-attachments:create');
    const input = obj(obj(await ctx.json())?.volumeAttachment);
    if (!input)
      throw badRequest(
        "Invalid input for field/attribute volumeAttachment. 'volumeAttachment' is a required property",
      );
    if ('tag' in input && !atLeast(ctx.mv, '2.49')) {
      throw badRequest(
        "Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('tag' was unexpected)",
      );
    }
    if ('delete_on_termination' in input && !atLeast(ctx.mv, '2.79')) {
      throw badRequest(
        "Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('delete_on_termination' was unexpected)",
      );
    }
    const b = attachVolume(sim, ctx.auth!, s, {
      volumeId: input.volumeId,
      device: input.device,
      tag: input.tag,
      deleteOnTermination: input.delete_on_termination,
    });
    // From 2.101 the attach is answered 202 without a body.
    if (atLeast(ctx.mv, '2.101')) return { status: 202 };
    const view = volumeAttachmentView(ctx, s, b);
    delete view.attachment_id;
    delete view.bdm_uuid;
    return { status: 200, body: { volumeAttachment: { ...view, id: b.volume_id } } };
  });
  route('DELETE', '/servers/:id/os-volume_attachments/:volume_id', (ctx) => {
    const s = findServer(sim, ctx.auth!, ctx.params.id!);
    requireWriter(ctx.auth!, 'os_compute_api:os-volumes-attachments:delete');
    detachVolume(sim, ctx.auth!, s, ctx.params.volume_id!);
    return { status: 202 };
  });

  // ---- small read-only collections clients look at
  route('GET', '/os-availability-zone', () => ({
    status: 200,
    body: { availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }] },
  }));
  route('GET', '/os-keypairs', () => ({ status: 200, body: { keypairs: [] } }));
  route('GET', '/limits', (ctx) => {
    const mine = Object.values(sim.store.state.servers).filter((s) => s.project_id === ctx.auth!.projectId);
    return {
      status: 200,
      body: {
        limits: {
          rate: [],
          absolute: {
            maxTotalInstances: 100,
            maxTotalCores: 200,
            maxTotalRAMSize: 512000,
            totalInstancesUsed: mine.length,
          },
        },
      },
    };
  });
}
