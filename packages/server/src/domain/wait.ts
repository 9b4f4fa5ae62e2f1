import { setTimeout as sleep } from 'node:timers/promises';
import { JobFailedError } from '../jobs/errors.js';

/**
 * Waits between polls of a Cinder or Nova transition: 25 ms first, half as long again each time, at
 * most 2 s. A thin snapshot or an empty volume is ready in a fraction of a second and is seen within
 * a few tens of ms of it; a minutes-long transition costs a poll every 2 s.
 */
const FIRST_POLL_MS = 25;
const nextPollMs = (previousMs: number) => Math.min(previousMs * 1.5, 2_000);

/**
 * Polls until `check` returns a value (not undefined). Cinder and Nova work asynchronously; their
 * resources pass through transitional statuses that we wait out here.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: {
    signal?: AbortSignal;
    timeoutMs?: number;
    intervalMs?: number;
    /** Work worth doing while the wait lasts: started when the first check finds nothing. */
    meanwhile?: Meanwhile;
  } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  let interval = options.intervalMs ?? FIRST_POLL_MS;
  let stopMeanwhile: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new JobFailedError(`timed out waiting for ${what}`);
      if (options.meanwhile) stopMeanwhile ??= startMeanwhile(options.meanwhile);
      await sleep(interval, undefined, { signal: options.signal });
      interval = nextPollMs(interval);
    }
  } finally {
    await stopMeanwhile?.();
  }
}

/** Work done while waiting for something else; stops at the signal and never rejects. */
export type Meanwhile = (signal: AbortSignal) => Promise<unknown>;

/** Starts `work`; the returned function stops it and resolves once it has stopped. */
function startMeanwhile(work: Meanwhile): () => Promise<void> {
  const stop = new AbortController();
  const running = work(stop.signal);
  return async () => {
    stop.abort();
    await running;
  };
}
