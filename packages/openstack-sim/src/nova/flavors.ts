import { notFound } from '../common/errors.js';
import type { RequestContext } from '../common/http.js';
import { atLeast } from '../common/microversion.js';
import type { Sim } from '../sim/context.js';

export interface Flavor {
  id: string;
  name: string;
  ram: number;
  disk: number;
  vcpus: number;
}

/** DevStack's default flavors. */
export const FLAVORS: Flavor[] = [
  { id: '1', name: 'm1.tiny', ram: 512, disk: 1, vcpus: 1 },
  { id: '2', name: 'm1.small', ram: 2048, disk: 20, vcpus: 1 },
  { id: '3', name: 'm1.medium', ram: 4096, disk: 40, vcpus: 2 },
  { id: '4', name: 'm1.large', ram: 8192, disk: 80, vcpus: 4 },
  { id: '5', name: 'm1.xlarge', ram: 16384, disk: 160, vcpus: 8 },
];

/** flavorRef may be an id or a URL ending in the id. */
export function findFlavor(ref: string): Flavor | undefined {
  const id = ref.split('/').pop() ?? ref;
  return FLAVORS.find((f) => f.id === id);
}

export function getFlavor(id: string): Flavor {
  const f = findFlavor(id);
  if (!f) throw notFound(`Flavor ${id} could not be found.`);
  return f;
}

function links(sim: Sim, id: string) {
  return [
    { href: `${sim.urls.nova}/v2.1/flavors/${id}`, rel: 'self' },
    { href: `${sim.urls.nova}/flavors/${id}`, rel: 'bookmark' },
  ];
}

export function flavorSummary(sim: Sim, ctx: RequestContext, f: Flavor) {
  const out: Record<string, unknown> = { id: f.id, links: links(sim, f.id), name: f.name };
  if (atLeast(ctx.mv, '2.55')) out.description = null;
  return out;
}

/** nova/api/openstack/compute/views/flavors.py by microversion (2.55 description, 2.61 extra_specs, 2.75 swap 0). */
export function flavorDetail(sim: Sim, ctx: RequestContext, f: Flavor) {
  const mv = ctx.mv;
  const out: Record<string, unknown> = {
    id: f.id,
    name: f.name,
    ram: f.ram,
    disk: f.disk,
    vcpus: f.vcpus,
    links: links(sim, f.id),
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'os-flavor-access:is_public': true,
  };
  if (atLeast(mv, '2.75')) {
    out.swap = 0;
  } else {
    out.swap = '';
    out.rxtx_factor = 1.0;
    out['OS-FLV-DISABLED:disabled'] = false;
  }
  if (atLeast(mv, '2.55')) out.description = null;
  if (atLeast(mv, '2.61')) out.extra_specs = {};
  return out;
}
