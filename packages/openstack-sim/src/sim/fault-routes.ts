import { authContextOf, lookupToken } from '../common/auth.js';
import { ApiError, badRequest } from '../common/errors.js';
import {
  type FaultSpec,
  isServiceName,
  parseFaultSpec,
  SERVICE_NAMES,
  type ServiceName,
} from '../common/faults.js';
import type { RequestContext, Router } from '../common/http.js';
import type { Sim } from './context.js';

export interface FaultControl {
  set(service: ServiceName, spec: FaultSpec): Promise<void>;
  clear(service?: ServiceName): Promise<void>;
}

/**
 * `/_sim/faults` on every service port (admin token required): GET shows, PUT/POST sets
 * `{service, ...FaultSpec}`, DELETE clears (`?service=` for one). Never itself faulted, so a service
 * that is "down" is brought back through another service's port.
 */
export function faultRoutes(router: Router, sim: Sim, control: FaultControl): void {
  const admin = (ctx: RequestContext) => {
    const token = lookupToken(sim.store, ctx.header('x-auth-token'));
    const auth = token ? authContextOf(sim.store, token) : undefined;
    if (!auth) throw new ApiError(401, 'The request you have made requires authentication.');
    if (!auth.isAdmin) throw new ApiError(403, 'Only an admin may change faults.');
  };
  router.add('GET', '/_sim/stats', (ctx) => {
    admin(ctx);
    return { status: 200, body: { snapshots_created: Object.fromEntries(sim.stats.snapshotsCreated) } };
  });
  router.add('GET', '/_sim/faults', (ctx) => {
    admin(ctx);
    return { status: 200, body: { faults: sim.faults.all() } };
  });
  const set = async (ctx: RequestContext) => {
    admin(ctx);
    const body = await ctx.json();
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw badRequest('Expected {"service": ..., ...FaultSpec}');
    const { service } = body as Record<string, unknown>;
    if (!isServiceName(service)) throw badRequest(`service must be one of ${SERVICE_NAMES.join(', ')}`);
    await control.set(service, parseFaultSpec(body as Record<string, unknown>));
    return { status: 200, body: { faults: sim.faults.all() } };
  };
  router.add('PUT', '/_sim/faults', set);
  router.add('POST', '/_sim/faults', set);
  router.add('DELETE', '/_sim/faults', async (ctx) => {
    admin(ctx);
    const service = ctx.query.get('service');
    if (service !== null && !isServiceName(service))
      throw badRequest(`service must be one of ${SERVICE_NAMES.join(', ')}`);
    await control.clear(service ?? undefined);
    return { status: 200, body: { faults: sim.faults.all() } };
  });
}
