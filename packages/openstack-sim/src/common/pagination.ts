import { ApiError } from './errors.js';

/** Resources sortable the way the list APIs sort them (default: newest first, then id). */
export interface Sortable {
  id: string;
  created_at: string;
  [key: string]: unknown;
}

function sortKeys(
  query: URLSearchParams,
  defaults: Array<[string, 'asc' | 'desc']>,
): Array<[string, 'asc' | 'desc']> {
  const sort = query.get('sort');
  if (sort) {
    return sort.split(',').map((part) => {
      const [key, dir] = part.split(':');
      return [key!.trim(), dir?.trim() === 'asc' ? 'asc' : 'desc'];
    });
  }
  const keys = query.getAll('sort_key');
  if (keys.length) {
    const dirs = query.getAll('sort_dir');
    return keys.map((k, i) => [k, (dirs[i] ?? dirs[0]) === 'asc' ? 'asc' : 'desc']);
  }
  return defaults;
}

export interface Page<T> {
  items: T[];
  /** The limit asked for, when the page is full: the caller adds a `next` link. */
  fullAt: number | undefined;
}

/**
 * `limit` / `marker` / sort handling shared by the list APIs. Like Cinder's `_get_collection_links`,
 * Nova's and Glance's, a next link is due when the page is full.
 */
export function paginate<T extends Sortable>(
  all: T[],
  query: URLSearchParams,
  opts: {
    maxLimit: number;
    markerNotFound: (marker: string) => ApiError;
    badLimit?: (value: string) => ApiError;
    defaultLimit?: number;
  },
): Page<T> {
  const keys = sortKeys(query, [
    ['created_at', 'desc'],
    ['id', 'desc'],
  ]);
  const val = (x: T, k: string) => {
    const v = k === 'name' ? (x.name ?? x.display_name) : x[k];
    return v === null || v === undefined ? '' : v;
  };
  const sorted = [...all].sort((a, b) => {
    for (const [k, dir] of keys) {
      const va = val(a, k);
      const vb = val(b, k);
      if (va === vb) continue;
      const r = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va) < String(vb) ? -1 : 1;
      return dir === 'asc' ? r : -r;
    }
    return a.id < b.id ? 1 : -1;
  });
  let start = 0;
  const marker = query.get('marker');
  if (marker) {
    const i = sorted.findIndex((x) => x.id === marker);
    if (i < 0) throw opts.markerNotFound(marker);
    start = i + 1;
  }
  const offset = query.get('offset');
  if (offset && /^\d+$/.test(offset)) start += Number(offset);
  const rawLimit = query.get('limit');
  let limit = opts.defaultLimit ?? opts.maxLimit;
  if (rawLimit !== null) {
    if (!/^\d+$/.test(rawLimit)) {
      throw (
        opts.badLimit ??
        ((v) => new ApiError(400, `Invalid input received: limit must be an integer, got ${v}`))
      )(rawLimit);
    }
    limit = Math.min(Number(rawLimit), opts.maxLimit);
  }
  const items = sorted.slice(start, start + limit);
  return { items, fullAt: items.length > 0 && items.length === limit ? limit : undefined };
}

/** The request's query with `marker`/`limit` replaced: the href of the next page. */
export function nextHref(base: string, query: URLSearchParams, limit: number, lastId: string): string {
  const q = new URLSearchParams(query);
  q.delete('marker');
  q.set('limit', String(limit));
  q.set('marker', lastId);
  return `${base}?${q.toString()}`;
}
