import { badRequest } from './errors.js';

export const SERVICE_NAMES = ['keystone', 'cinder', 'nova', 'glance'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface FaultSpec {
  /** Added before every answer. */
  latencyMs?: number;
  /** 0..1: fraction of requests answered with a 5xx and the service's error body. */
  errorRate?: number;
  /** Status used for injected errors: 500 or 503 (default 503). */
  errorStatus?: 500 | 503;
  /** 0..1: fraction of requests whose socket is destroyed without an answer. */
  dropRate?: number;
  /** Connection refused: the service stops listening until cleared. */
  down?: boolean;
}

export function isServiceName(s: unknown): s is ServiceName {
  return typeof s === 'string' && (SERVICE_NAMES as readonly string[]).includes(s);
}

/** Validates a fault spec from the HTTP endpoint or a caller; throws 400 naming the bad field. */
export function parseFaultSpec(input: Record<string, unknown>): FaultSpec {
  const spec: FaultSpec = {};
  for (const [key, value] of Object.entries(input)) {
    switch (key) {
      case 'service':
        break;
      case 'latencyMs':
        if (typeof value !== 'number' || value < 0) throw badRequest('latencyMs must be a number >= 0');
        spec.latencyMs = value;
        break;
      case 'errorRate':
      case 'dropRate':
        if (typeof value !== 'number' || value < 0 || value > 1)
          throw badRequest(`${key} must be between 0 and 1`);
        spec[key] = value;
        break;
      case 'errorStatus':
        if (value !== 500 && value !== 503) throw badRequest('errorStatus must be 500 or 503');
        spec.errorStatus = value;
        break;
      case 'down':
        if (typeof value !== 'boolean') throw badRequest('down must be a boolean');
        spec.down = value;
        break;
      default:
        throw badRequest(`unknown fault field ${key}`);
    }
  }
  return spec;
}

export type FaultDecision = { kind: 'pass' } | { kind: 'drop' } | { kind: 'error'; status: number };

/** Current faults per service; `decide` is applied to every request except `/_sim/*`. */
export class FaultTable {
  private readonly specs = new Map<ServiceName, FaultSpec>();

  get(service: ServiceName): FaultSpec {
    return this.specs.get(service) ?? {};
  }

  all(): Record<ServiceName, FaultSpec> {
    return Object.fromEntries(SERVICE_NAMES.map((s) => [s, this.get(s)])) as Record<ServiceName, FaultSpec>;
  }

  set(service: ServiceName, spec: FaultSpec): void {
    this.specs.set(service, { ...spec });
  }

  clear(service: ServiceName): void {
    this.specs.delete(service);
  }

  decide(service: ServiceName, random: () => number = Math.random): FaultDecision {
    const spec = this.get(service);
    if (spec.dropRate && random() < spec.dropRate) return { kind: 'drop' };
    if (spec.errorRate && random() < spec.errorRate)
      return { kind: 'error', status: spec.errorStatus ?? 503 };
    return { kind: 'pass' };
  }
}
