import { badRequest } from './errors.js';

export type SortDirection = 'asc' | 'desc';
export interface SortSpec<K extends string> {
  key: K;
  dir: SortDirection;
}

export interface PageRequest<K extends string> {
  limit: number;
  /** Id of the last item of the previous page. */
  marker?: string;
  sort: SortSpec<K>;
}

export const MAX_PAGE_SIZE = 1000;

/**
 * Parses Cinder's `sort=key:dir` (also `sort_key`/`sort_dir`). Only the first key is used; `id`
 * always breaks ties in the same direction, so pages are stable.
 */
export function parseSort<K extends string>(
  raw: { sort?: string; sort_key?: string; sort_dir?: string },
  allowed: readonly K[],
  fallback: SortSpec<K>,
): SortSpec<K> {
  const [first] = (raw.sort ?? (raw.sort_key ? `${raw.sort_key}:${raw.sort_dir ?? 'desc'}` : '')).split(',');
  if (!first) return fallback;
  const [key, dir = 'desc'] = first.split(':');
  if (!allowed.includes(key as K)) {
    throw badRequest(`Invalid sort key ${JSON.stringify(key)}: use one of ${allowed.join(', ')}`);
  }
  if (dir !== 'asc' && dir !== 'desc')
    throw badRequest(`Invalid sort direction ${JSON.stringify(dir)}: use asc or desc`);
  return { key: key as K, dir };
}

/**
 * Prisma `orderBy` and the `where` that selects the items after `markerRow` in that order. NULLs come
 * first ascending and last descending, as PostgreSQL orders them by default.
 */
export function keyset<K extends string>(
  sort: SortSpec<K>,
  column: { name: string; nullable: boolean },
  markerRow: (Record<string, unknown> & { id: string }) | undefined,
) {
  const nulls = sort.dir === 'asc' ? 'first' : 'last';
  const orderBy = [
    { [column.name]: column.nullable ? { sort: sort.dir, nulls } : sort.dir },
    { id: sort.dir },
  ];
  return { orderBy, where: markerRow ? after(sort.dir, column, markerRow) : {} };
}

function after(
  dir: SortDirection,
  { name: column, nullable }: { name: string; nullable: boolean },
  markerRow: Record<string, unknown> & { id: string },
) {
  const op = dir === 'asc' ? 'gt' : 'lt';
  const value = markerRow[column];
  if (column === 'id') return { id: { [op]: markerRow.id } };
  if (value === null || value === undefined) {
    return dir === 'asc'
      ? { OR: [{ [column]: null, id: { gt: markerRow.id } }, { NOT: { [column]: null } }] }
      : { [column]: null, id: { lt: markerRow.id } };
  }
  const later: unknown[] = [{ [column]: { [op]: value } }, { [column]: value, id: { [op]: markerRow.id } }];
  // NULLs come last descending; a column that cannot be NULL must not be asked for them (Prisma refuses).
  if (dir === 'desc' && nullable) later.push({ [column]: null });
  return { OR: later };
}

/**
 * One page of a list: the marker row (400 when the caller cannot see it), then `limit + 1` rows after
 * it in the sort's keyset order — the extra row only tells whether more follow.
 */
export async function keysetPage<K extends string, M extends Record<string, unknown> & { id: string }, R>(
  page: PageRequest<K>,
  column: { name: string; nullable: boolean },
  load: {
    /** The marker row, if the caller may see it. */
    marker(id: string): Promise<M | null>;
    /** Rows matching the list's filters and `after`, in `orderBy`, at most `take`. */
    rows(after: { where: object; orderBy: object[]; take: number }): Promise<R[]>;
  },
): Promise<{ rows: R[]; more: boolean }> {
  let markerRow: M | undefined;
  if (page.marker) {
    markerRow = (await load.marker(page.marker)) ?? undefined;
    if (!markerRow) throw badRequest(`Marker ${page.marker} could not be found.`);
  }
  const { where, orderBy } = keyset(page.sort, column, markerRow);
  const limit = Math.min(page.limit, MAX_PAGE_SIZE);
  const rows = await load.rows({ where, orderBy, take: limit + 1 });
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}
