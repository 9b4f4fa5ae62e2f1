/** Timestamps are stored as ISO strings (ms precision) and rendered the way each service does. */
export const nowIso = (): string => new Date().toISOString();

/** Cinder / Nova `launched_at`: `2018-11-28T06:21:12.715000` (naive UTC, microseconds). */
export function micro(iso: string | null | undefined): string | null {
  if (!iso) return null;
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}000`;
}

/** Nova `created`/`updated`, Glance: `2013-09-03T04:01:32Z`. */
export function seconds(iso: string | null | undefined): string | null {
  if (!iso) return null;
  return `${iso.slice(0, 19)}Z`;
}

/** Keystone: `2015-11-07T02:58:43.578000Z`. */
export function keystoneTime(iso: string): string {
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}000Z`;
}
