import { TRPCClientError } from '@trpc/client';
import type { DomainErrorCode } from './types.js';

/** A query procedure of the client, e.g. `client.volumeBackups.get`. */
export interface QueryProcedure<I, O> {
  query(input: I, options?: { signal?: AbortSignal }): Promise<O>;
}

/** Statuses that mean "this will not get where you wait for it" unless you wait for them. */
const FAILED = ['error', 'error_deleting', 'error_restoring', 'failed', 'cancelled'];

export interface WaitOptions<S extends string> {
  /** The status (or statuses) to wait for. */
  status: S | readonly S[];
  /** Statuses that end the wait with a WaitForError. Default: error, error_deleting, failed, cancelled. */
  failOn?: readonly string[];
  /** Default: 10 minutes. */
  timeoutMs?: number;
  /** First pause between polls (grows to 2 s). Default: 250 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Polls a `get` procedure until the resource reaches one of the wanted statuses, and returns it then.
 *
 * @example
 * const backup = await waitFor(client.volumeBackups.get, { id }, { status: 'available' });
 * const job = await waitFor(client.jobs.get, { id: jobId }, { status: 'succeeded' });
 */
export async function waitFor<I, O extends { status: string }>(
  procedure: QueryProcedure<I, O>,
  input: NoInfer<I>,
  options: WaitOptions<O['status']>,
): Promise<O> {
  const wanted: readonly string[] = typeof options.status === 'string' ? [options.status] : options.status;
  const failOn = (options.failOn ?? FAILED).filter((status) => !wanted.includes(status));
  return poll<O>(options, async (signal) => {
    const resource = await procedure.query(input, { signal });
    if (wanted.includes(resource.status)) return { done: resource };
    if (failOn.includes(resource.status)) {
      throw new WaitForError(`reached status ${resource.status} instead of ${wanted.join(' or ')}`, resource);
    }
    return { last: resource };
  });
}

/**
 * Polls a `get` procedure until it answers NOT_FOUND (e.g. a deleted backup is gone).
 *
 * @example
 * await client.volumeBackups.delete.mutate({ id });
 * await waitForGone(client.volumeBackups.get, { id });
 */
export async function waitForGone<I>(
  procedure: QueryProcedure<I, unknown>,
  input: NoInfer<I>,
  options: Omit<WaitOptions<string>, 'status' | 'failOn'> = {},
): Promise<void> {
  await poll<undefined>(options, async (signal) => {
    try {
      const resource = await procedure.query(input, { signal });
      const status = (resource as { status?: unknown } | null)?.status;
      if (typeof status === 'string' && FAILED.includes(status))
        throw new WaitForError(`reached status ${status} instead of going away`, resource);
      return { last: resource };
    } catch (error) {
      if (errorCode(error) === 'NOT_FOUND') return { done: undefined };
      throw error;
    }
  });
}

/** The wait ended without the status waited for: a failure status, or the time ran out. */
export class WaitForError extends Error {
  override readonly name = 'WaitForError';
  constructor(
    message: string,
    /** The resource as last seen. */
    readonly resource: unknown,
  ) {
    super(message);
  }
}

async function poll<T>(
  options: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal },
  step: (signal: AbortSignal | undefined) => Promise<{ done: T } | { last: unknown }>,
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let interval = options.intervalMs ?? 250;
  for (;;) {
    options.signal?.throwIfAborted();
    const outcome = await step(options.signal);
    if ('done' in outcome) return outcome.done;
    if (Date.now() >= deadline) throw new WaitForError('timed out waiting', outcome.last);
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), options.signal);
    interval = Math.min(interval * 1.5, 2_000);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined) {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A list procedure, e.g. `client.volumeBackups.list`: pages of `items` chained by `nextMarker`. */
export interface ListProcedure {
  query(input: never, options?: never): PromiseLike<{ items: unknown[]; nextMarker: string | null }>;
}
/** The input of a list procedure. */
export type ListInput<P extends ListProcedure> = Parameters<P['query']>[0];
/** The items a list procedure answers. */
export type ListItem<P extends ListProcedure> = Awaited<ReturnType<P['query']>>['items'][number];

/**
 * Every page of a list, one after another (fetched as you iterate).
 *
 * @example
 * for await (const page of pages(client.volumeBackups.list, { status: 'available', limit: 50 })) {
 *   console.log(page.length);
 * }
 */
export async function* pages<P extends ListProcedure>(
  procedure: P,
  input?: ListInput<P>,
): AsyncGenerator<ListItem<P>[], void, undefined> {
  const base = (input ?? {}) as { marker?: string };
  let marker = base.marker;
  do {
    // (Called as a method: the client is a proxy, so `query.bind` would be a procedure path.)
    const page = await procedure.query({ ...base, marker } as never);
    yield page.items as ListItem<P>[];
    marker = page.nextMarker ?? undefined;
  } while (marker);
}

/**
 * Every item of a list, across pages.
 *
 * @example
 * for await (const backup of items(client.volumeBackups.list, { volumeId })) console.log(backup.id);
 */
export async function* items<P extends ListProcedure>(
  procedure: P,
  input?: ListInput<P>,
): AsyncGenerator<ListItem<P>, void, undefined> {
  for await (const page of pages(procedure, input)) yield* page;
}

/**
 * What went wrong on the service's side, in the same terms for every door: BAD_REQUEST, UNAUTHORIZED,
 * FORBIDDEN, NOT_FOUND, CONFLICT, … (undefined for anything that is not an answer of the service).
 */
export function errorCode(error: unknown): DomainErrorCode | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { domainCode?: DomainErrorCode | null } | undefined;
  return data?.domainCode ?? undefined;
}
