import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ApiError, badRequest, conflict, notFound } from '../common/errors.js';
import type { RequestContext, Router } from '../common/http.js';
import type { Sim } from '../sim/context.js';

/**
 * SPEC §10 data API on the Cinder port, standing in for a guest writing to its disk. No auth:
 * it is a test and embedded-default facility, like a hypervisor's view of the volume.
 */

function intParam(ctx: RequestContext, name: string, fallback?: number): number {
  const raw = ctx.query.get(name);
  if (raw === null) {
    if (fallback === undefined) throw badRequest(`${name} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} must be a non-negative integer`);
  return Number(raw);
}

function volumeFile(sim: Sim, id: string): string {
  const v = sim.store.state.volumes[id];
  if (!v) throw notFound(`Volume ${id} could not be found.`);
  const path = sim.files.volumePath(id);
  if (v.status === 'creating' || v.status === 'deleting' || !existsSync(path)) {
    throw conflict(`Volume ${id} has no data yet or is being deleted (status ${v.status}).`);
  }
  return path;
}

function snapshotFile(sim: Sim, id: string): string {
  const s = sim.store.state.snapshots[id];
  const path = sim.files.snapshotPath(id);
  if (!s || !existsSync(path)) throw notFound(`Snapshot ${id} could not be found.`);
  return path;
}

async function readRange(sim: Sim, ctx: RequestContext, path: string): Promise<undefined> {
  const size = (await stat(path)).size;
  const offset = intParam(ctx, 'offset', 0);
  const length = intParam(ctx, 'length', size - Math.min(offset, size));
  if (offset + length > size) throw badRequest(`range ${offset}+${length} is past the end (${size} bytes)`);
  ctx.res.writeHead(200, {
    ...ctx.responseHeaders,
    'content-type': 'application/octet-stream',
    'content-length': String(length),
  });
  if (length === 0 || ctx.method === 'HEAD') {
    ctx.res.end();
    return undefined;
  }
  await pipeline(sim.files.readStream(path, offset, length), ctx.res);
  return undefined;
}

export function dataApiRoutes(router: Router, sim: Sim): void {
  router.add('PUT', '/_sim/volumes/:id/data', async (ctx) => {
    const path = volumeFile(sim, ctx.params.id!);
    const offset = intParam(ctx, 'offset', 0);
    const declared = ctx.header('content-length');
    try {
      const written = await sim.files.write(
        ctx.params.id!,
        offset,
        ctx.req,
        declared !== undefined ? Number(declared) : undefined,
      );
      return { status: 200, body: { volume_id: ctx.params.id, offset, length: written, path } };
    } catch (err) {
      if (err instanceof RangeError) {
        // Read (and drop) whatever of the body is left, so the client gets the 400.
        if (!ctx.req.readableEnded) for await (const _ of ctx.req) void _;
        throw badRequest(err.message);
      }
      throw err;
    }
  });
  router.add('GET', '/_sim/volumes/:id/data', (ctx) => readRange(sim, ctx, volumeFile(sim, ctx.params.id!)));
  router.add('GET', '/_sim/snapshots/:id/data', (ctx) =>
    readRange(sim, ctx, snapshotFile(sim, ctx.params.id!)),
  );
  router.add('GET', '/_sim/volumes/:id/sha256', async (ctx) => {
    const path = volumeFile(sim, ctx.params.id!);
    const sha256 = await sim.files.withLock(ctx.params.id!, () => sim.files.sha256(path));
    return { status: 200, body: { sha256 } };
  });
  router.add('GET', '/_sim/snapshots/:id/sha256', async (ctx) => {
    const path = snapshotFile(sim, ctx.params.id!);
    return { status: 200, body: { sha256: await sim.files.sha256(path) } };
  });
  router.add('GET', '/_sim/volumes/:id/changes', async (ctx) => {
    volumeFile(sim, ctx.params.id!);
    const changes = await sim.files.readVolumeChanges(ctx.params.id!);
    if (!changes) throw new ApiError(404, 'No change tracking for this volume.');
    return { status: 200, body: changes };
  });
}
