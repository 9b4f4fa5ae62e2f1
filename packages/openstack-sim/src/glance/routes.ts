import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { requireAuth } from '../common/auth.js';
import {
  badRequest,
  conflict,
  forbidden,
  glanceErrorResponse,
  keystoneMiddleware401,
} from '../common/errors.js';
import type { Reply, RequestContext, Router } from '../common/http.js';
import { isUuid } from '../common/ids.js';
import { nextHref, paginate } from '../common/pagination.js';
import { nowIso } from '../common/time.js';
import type { Sim } from '../sim/context.js';
import type { Image } from '../state/types.js';
import {
  deleteImage,
  findVisibleImage,
  imageNotFound,
  imagePath,
  imageView,
  newImage,
  storeImageData,
} from './images.js';

const READ_ONLY = new Set([
  'status',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'owner',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
  'locations',
  'direct_url',
]);

export function glanceErrorReply(sim: Sim, ctx: RequestContext, status: number, message: string): Reply {
  if (status === 401) {
    const r = keystoneMiddleware401(sim.urls.keystone);
    return { status, body: r.body, headers: r.headers };
  }
  const { contentType, body } = glanceErrorResponse(status, message, ctx.header('accept'));
  return { status, raw: body, contentType };
}

function versionsDoc(sim: Sim) {
  const versions = [];
  for (let minor = 18; minor >= 0; minor--) {
    versions.push({
      id: `v2.${minor}`,
      links: [{ href: `${sim.urls.glance}/v2/`, rel: 'self' }],
      status: minor === 18 ? 'CURRENT' : 'SUPPORTED',
    });
  }
  return { versions };
}

function applyAttribute(img: Image, key: string, value: unknown, isAdmin: boolean): void {
  if (READ_ONLY.has(key) || key === 'id') throw forbidden(`Attribute '${key}' is read-only.`);
  switch (key) {
    case 'name':
      if (value !== null && typeof value !== 'string') throw badRequest('Invalid value for name');
      img.name = value as string | null;
      return;
    case 'visibility':
      if (!['public', 'private', 'shared', 'community'].includes(value as string))
        throw badRequest(`Invalid visibility value: ${String(value)}`);
      if (value === 'public' && !isAdmin)
        throw forbidden('You are not authorized to complete publicize_image action.');
      img.visibility = value as Image['visibility'];
      return;
    case 'protected':
    case 'os_hidden':
      if (typeof value !== 'boolean') throw badRequest(`Invalid value for ${key}`);
      img[key] = value;
      return;
    case 'container_format':
    case 'disk_format':
      img[key] = (value ?? null) as string | null;
      return;
    case 'min_disk':
    case 'min_ram':
      if (typeof value !== 'number' || value < 0) throw badRequest(`Invalid value for ${key}`);
      img[key] = value;
      return;
    case 'tags':
      if (!Array.isArray(value)) throw badRequest('Invalid value for tags');
      img.tags = value.map(String);
      return;
    default:
      if (typeof value !== 'string') throw badRequest(`Invalid value for property ${key}: must be a string`);
      img.properties[key] = value;
  }
}

export function glanceRoutes(router: Router, sim: Sim): void {
  router.add('GET', '/', () => ({ status: 300, body: versionsDoc(sim) }));
  router.add('GET', '/versions', () => ({ status: 200, body: versionsDoc(sim) }));

  const find = (ctx: RequestContext): Image => {
    const auth = requireAuth(ctx, sim.store);
    const img = findVisibleImage(sim, auth, ctx.params.id!);
    if (!img) throw imageNotFound(ctx.params.id!);
    return img;
  };
  const writable = (ctx: RequestContext, img?: Image) => {
    const auth = ctx.auth!;
    if (!auth.canWrite) throw forbidden('You are not authorized to complete this action.');
    if (img && !auth.isAdmin && img.owner !== auth.projectId)
      throw forbidden(`You cannot modify image ${img.id}.`);
  };

  router.add('GET', '/v2/images', (ctx) => {
    const auth = requireAuth(ctx, sim.store);
    const q = ctx.query;
    let items = Object.values(sim.store.state.images).filter((i) => findVisibleImage(sim, auth, i.id));
    if (!auth.isAdmin)
      items = items.filter((i) => i.visibility !== 'community' || i.owner === auth.projectId);
    const hidden = q.get('os_hidden') === 'true';
    items = items.filter((i) => i.os_hidden === hidden);
    for (const key of ['name', 'status', 'visibility', 'owner', 'container_format', 'disk_format']) {
      const want = q.get(key);
      if (want) items = items.filter((i) => String((i as unknown as Record<string, unknown>)[key]) === want);
    }
    const id = q.get('id');
    if (id) {
      const ids = id.startsWith('in:') ? id.slice(3).split(',') : [id];
      items = items.filter((i) => ids.includes(i.id));
    }
    for (const tag of q.getAll('tag')) items = items.filter((i) => i.tags.includes(tag));
    const page = paginate(items as unknown as Array<Image & { [k: string]: unknown }>, q, {
      maxLimit: 1000,
      defaultLimit: 25,
      markerNotFound: () => badRequest('Invalid marker. Image could not be found.'),
      badLimit: () => badRequest('limit param must be an integer'),
    });
    const body: Record<string, unknown> = {
      images: page.items.map(imageView),
      schema: '/v2/schemas/images',
      first: `/v2/images${q.toString() ? `?${new URLSearchParams([...q].filter(([k]) => k !== 'marker')).toString()}` : ''}`,
    };
    if (page.fullAt)
      body.next = nextHref('/v2/images', q, page.fullAt, page.items[page.items.length - 1]!.id);
    return { status: 200, body };
  });

  router.add('POST', '/v2/images', async (ctx) => {
    const auth = requireAuth(ctx, sim.store);
    writable(ctx);
    const body = (await ctx.json()) as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw badRequest('Body expected in request.');
    const img = newImage({ owner: auth.projectId });
    if (body.id !== undefined) {
      if (typeof body.id !== 'string' || !isUuid(body.id)) throw badRequest(`Invalid id: ${String(body.id)}`);
      if (sim.store.state.images[body.id]) throw conflict(`Image with identifier ${body.id} already exists!`);
      img.id = body.id;
    }
    for (const [k, v] of Object.entries(body)) if (k !== 'id') applyAttribute(img, k, v, auth.isAdmin);
    sim.store.state.images[img.id] = img;
    // The api-ref create sample shows `locations` (show_multiple_locations on).
    return {
      status: 201,
      headers: { location: `${sim.urls.glance}/v2/images/${img.id}` },
      body: { ...imageView(img), locations: [] },
    };
  });

  router.add('GET', '/v2/images/:id', (ctx) => ({ status: 200, body: imageView(find(ctx)) }));

  router.add('PATCH', '/v2/images/:id', async (ctx) => {
    const img = find(ctx);
    writable(ctx, img);
    const ops = await ctx.json();
    if (!Array.isArray(ops)) throw badRequest('Expected a JSON patch list.');
    for (const op of ops as Array<Record<string, unknown>>) {
      const path = typeof op.path === 'string' ? op.path.replace(/^\//, '') : '';
      if (!path || path.includes('/'))
        throw badRequest(`Invalid JSON pointer for this resource: '${String(op.path)}'`);
      if (op.op === 'remove') {
        if (!(path in img.properties)) throw conflict(`Property ${path} does not exist.`);
        delete img.properties[path];
      } else if (op.op === 'add' || op.op === 'replace') {
        applyAttribute(img, path, op.value, ctx.auth!.isAdmin);
      } else {
        throw badRequest(`Invalid operation: ${String(op.op)}`);
      }
    }
    img.updated_at = nowIso();
    return { status: 200, body: imageView(img) };
  });

  router.add('DELETE', '/v2/images/:id', async (ctx) => {
    const img = find(ctx);
    writable(ctx, img);
    if (img.protected) throw forbidden(`Image ${img.id} is protected and cannot be deleted.`);
    await deleteImage(sim, img);
    return { status: 204 };
  });

  router.add('PUT', '/v2/images/:id/file', async (ctx) => {
    const img = find(ctx);
    writable(ctx, img);
    if (img.status !== 'queued') {
      throw conflict(`Image status transition from ${img.status} to saving is not allowed`);
    }
    await storeImageData(sim, img, ctx.req);
    return { status: 204 };
  });

  router.add('GET', '/v2/images/:id/file', async (ctx) => {
    const img = find(ctx);
    if (img.status !== 'active' || img.size === null) return { status: 204 };
    const path = imagePath(sim, img.id);
    const size = (await stat(path)).size;
    ctx.res.writeHead(200, {
      ...ctx.responseHeaders,
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      ...(img.checksum ? { 'content-md5': img.checksum } : {}),
    });
    if (ctx.method === 'HEAD' || size === 0) {
      ctx.res.end();
      return undefined;
    }
    await pipeline(createReadStream(path), ctx.res);
    return undefined;
  });

  router.add('GET', '/v2/schemas/image', () => ({
    status: 200,
    body: { name: 'image', properties: {}, additionalProperties: { type: 'string' }, links: [] },
  }));
  router.add('GET', '/v2/schemas/images', () => ({
    status: 200,
    body: { name: 'images', properties: { images: { type: 'array', items: { name: 'image' } } }, links: [] },
  }));
}
