import { createHash } from 'node:crypto';
import type { ServiceUrls } from '../sim/context.js';

/** Stable ids, so that a restarted simulator serves the same catalog. */
const stableId = (s: string) => createHash('md5').update(s).digest('hex');

interface CatalogService {
  type: string;
  name: string;
  url: string;
}

/** The catalog of every project-scoped token: the four simulated services, three interfaces each. */
export function buildCatalog(urls: ServiceUrls, projectId: string): Record<string, unknown>[] {
  const cinder = `${urls.cinder}/v3/${projectId}`;
  const services: CatalogService[] = [
    { type: 'identity', name: 'keystone', url: `${urls.keystone}/v3` },
    // Nova looks Cinder up as volumev3; Cinder's install guide registers block-storage.
    { type: 'volumev3', name: 'cinderv3', url: cinder },
    { type: 'block-storage', name: 'cinder', url: cinder },
    { type: 'compute', name: 'nova', url: `${urls.nova}/v2.1` },
    { type: 'image', name: 'glance', url: urls.glance },
  ];
  return services.map((s) => ({
    endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
      id: stableId(`${s.type}/${iface}`),
      interface: iface,
      region: 'RegionOne',
      region_id: 'RegionOne',
      url: s.url,
    })),
    type: s.type,
    id: stableId(s.type),
    name: s.name,
  }));
}
