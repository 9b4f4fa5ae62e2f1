import { badRequest } from '@backup-service/server';

/** Splits an action body (`{"<name>": {...}}`, exactly one key) into its name and arguments. */
export function singleAction<A extends Record<string, unknown>>(
  body: unknown,
  actions: A,
  what: string,
): [keyof A & string, unknown] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('Invalid request body: expected an object with one action, e.g. {"update": {...}}.');
  }
  const keys = Object.keys(body);
  if (keys.length !== 1) {
    throw badRequest(
      `Invalid request body: expected exactly one action, got ${keys.length ? keys.join(', ') : 'none'}.`,
    );
  }
  const [name] = keys as [string];
  if (!Object.hasOwn(actions, name)) {
    throw badRequest(
      `Unknown action: ${JSON.stringify(name)}. ${what} actions are ${Object.keys(actions).join(', ')}.`,
    );
  }
  return [name as keyof A & string, (body as Record<string, unknown>)[name]];
}

/** Cinder's `<collection>_links`: a `next` link with the same query, `limit` and the last id as `marker`. */
export function nextLink(base: string, path: string, query: unknown, limit: number, marker: string) {
  const params = new URLSearchParams(query as Record<string, string>);
  params.set('limit', String(limit));
  params.set('marker', marker);
  return [{ rel: 'next', href: `${base}/v1${path}?${params}` }];
}
