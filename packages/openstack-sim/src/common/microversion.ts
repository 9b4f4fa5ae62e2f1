import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors.js';

/** A microversion as [major, minor]; compare with `atLeast`. */
export interface Microversion {
  major: number;
  minor: number;
}

export const mvString = (v: Microversion): string => `${v.major}.${v.minor}`;

export function parseVersion(s: string): Microversion | null {
  const m = /^(\d+)\.(\d+)$/.exec(s.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

const cmp = (a: Microversion, b: Microversion): number => a.major - b.major || a.minor - b.minor;

export function atLeast(v: Microversion, wanted: string): boolean {
  const w = parseVersion(wanted);
  if (!w) throw new Error(`bad version literal ${wanted}`);
  return cmp(v, w) >= 0;
}

export interface MicroversionPolicy {
  /** `volume` or `compute`: the service type named in `OpenStack-API-Version`. */
  serviceType: string;
  min: string;
  max: string;
  /** Nova's pre-2.27 header, `X-OpenStack-Nova-API-Version: 2.x`. */
  legacyHeader?: string;
}

export const CINDER_MV: MicroversionPolicy = { serviceType: 'volume', min: '3.0', max: '3.71' };
export const NOVA_MV: MicroversionPolicy = {
  serviceType: 'compute',
  min: '2.1',
  max: '2.104',
  legacyHeader: 'x-openstack-nova-api-version',
};

/**
 * The version a request asks for. No header: the minimum. `latest`: the maximum. Malformed: 400.
 * Out of range: 406. `OpenStack-API-Version` may name several services ("compute 2.60, volume 3.0").
 */
export function negotiate(headers: IncomingHttpHeaders, policy: MicroversionPolicy): Microversion {
  const min = parseVersion(policy.min)!;
  const max = parseVersion(policy.max)!;
  let requested: string | undefined;
  const generic = headers['openstack-api-version'];
  if (typeof generic === 'string') {
    for (const part of generic.split(',')) {
      const [type, ver] = part.trim().split(/\s+/, 2);
      if (type?.toLowerCase() === policy.serviceType && ver) requested = ver;
    }
  }
  if (requested === undefined && policy.legacyHeader) {
    const legacy = headers[policy.legacyHeader];
    if (typeof legacy === 'string' && legacy.trim()) requested = legacy.trim();
  }
  if (requested === undefined) return min;
  if (requested.toLowerCase() === 'latest') return max;
  const v = parseVersion(requested);
  if (!v) {
    throw new ApiError(
      400,
      `API Version String ${requested} is of invalid format. Must be of format MajorNum.MinorNum.`,
    );
  }
  if (cmp(v, min) < 0 || cmp(v, max) > 0) {
    throw new ApiError(
      406,
      `Version ${requested} is not supported by the API. Minimum is ${policy.min} and maximum is ${policy.max}.`,
    );
  }
  return v;
}

/** Response headers echoing the version used (errors included). */
export function versionHeaders(policy: MicroversionPolicy, v: Microversion): Record<string, string> {
  const s = mvString(v);
  if (policy.legacyHeader) {
    return {
      'openstack-api-version': `${policy.serviceType} ${s}`,
      'x-openstack-nova-api-version': s,
      vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
    };
  }
  return { 'openstack-api-version': `${policy.serviceType} ${s}`, vary: 'OpenStack-API-Version' };
}
