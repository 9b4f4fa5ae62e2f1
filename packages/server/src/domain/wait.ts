import { setTimeout as sleep } from 'node:timers/promises';
import { JobFailedError } from '../jobs/errors.js';

/**
 * Polls until `check` returns a value (not undefined). Cinder and Nova work asynchronously; their
 * resources pass through transitional statuses that we wait out here.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { signal?: AbortSignal; timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  let interval = options.intervalMs ?? 100;
  for (;;) {
    options.signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new JobFailedError(`timed out waiting for ${what}`);
    await sleep(interval, undefined, { signal: options.signal });
    interval = Math.min(interval * 1.5, 2_000);
  }
}
