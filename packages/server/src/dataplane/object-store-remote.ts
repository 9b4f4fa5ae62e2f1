import { ExponentialBackoff, handleWhen, type IPolicy, retry } from 'cockatiel';
import { Semaphore } from './concurrency.js';
import type { ObjectWriter } from './object-store.js';

/** Shared by the S3 and Swift stores: key checks, bounded concurrency, retries, part uploads. */

export const TMP_MARK = '.tmp-';

/** Keys the repository uses: `a/b/c` segments, no dot segments, no temp mark. */
export function checkKey(key: string): void {
  if (key.split('/').some((part) => part === '' || part === '.' || part === '..') || key.includes(TMP_MARK)) {
    throw new Error(`invalid object key ${JSON.stringify(key)}`);
  }
}

/** `prefix/` of a URL path (`/a/b` → `a/b/`, `/` or `` → ``). */
export function prefixOfPath(pathname: string): string {
  const trimmed = decodeURIComponent(pathname).replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  checkKey(trimmed);
  return `${trimmed}/`;
}

export interface RemoteStoreOptions {
  /** Requests in flight at once per store (reads and writes together). Default 16. */
  concurrency?: number;
  /** Attempts of one request on 5xx, 429, timeouts and dropped connections. Default 5. */
  maxAttempts?: number;
  /** Timeout of one request (one part, one range). Default 120 s. */
  timeoutMs?: number;
  /** Size of the parts a large object is uploaded in. */
  partBytes?: number;
  /** Backoff of retries (tests shorten it). */
  initialBackoffMs?: number;
}

/** A failure worth repeating: the service's (5xx, 429, 408) or the network's. */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

/** Bounded concurrency and retries with capped exponential backoff and jitter. */
export class RequestGate {
  private readonly semaphore: Semaphore;
  private readonly policy: IPolicy;

  constructor(options: RemoteStoreOptions, isRetryable: (error: unknown) => boolean) {
    this.semaphore = new Semaphore(options.concurrency ?? 16);
    this.policy = retry(
      handleWhen((error) => error instanceof RetryableError || isRetryable(error)),
      {
        maxAttempts: Math.max(0, (options.maxAttempts ?? 5) - 1),
        backoff: new ExponentialBackoff({ initialDelay: options.initialBackoffMs ?? 200, maxDelay: 10_000 }),
      },
    );
  }

  /** Runs `fn` (one attempt = one request) under the concurrency bound, retrying retryable failures. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.policy.execute(async () => {
      await this.semaphore.acquire();
      try {
        return await fn();
      } finally {
        this.semaphore.release();
      }
    });
  }
}

/**
 * Streams an object in parts: the first `partBytes` are kept; an object that stays smaller is
 * written in one request at commit (`putWhole`); a larger one starts an upload whose parts go out
 * as they fill (at most `maxParts` in flight, so memory stays bounded), and becomes visible only
 * when `complete` runs at commit. abort() (or a crash) leaves an unfinished upload, which is what
 * the stores list as temporary.
 */
export abstract class PartWriter implements ObjectWriter {
  bytesWritten = 0;
  private buffer: Buffer;
  private used = 0;
  private parts: Array<Promise<void>> = [];
  private partCount = 0;
  private started = false;
  private done = false;
  private failure: unknown = null;

  constructor(
    readonly key: string,
    private readonly partBytes: number,
    private readonly maxParts = 2,
  ) {
    this.buffer = Buffer.allocUnsafe(partBytes);
  }

  /** The whole (small) object in one atomic request. */
  protected abstract putWhole(data: Buffer): Promise<void>;
  /** Starts an upload (before the first part). */
  protected abstract begin(): Promise<void>;
  /** Uploads part `n` (1-based). */
  protected abstract putPart(n: number, data: Buffer): Promise<void>;
  /** Makes the object of parts 1..count visible. */
  protected abstract complete(count: number): Promise<void>;
  /** Removes what an unfinished upload left. */
  protected abstract discard(): Promise<void>;

  async write(data: Uint8Array): Promise<void> {
    if (this.done) throw new Error(`writer of ${this.key} already finished`);
    let at = 0;
    while (at < data.length) {
      const n = Math.min(data.length - at, this.partBytes - this.used);
      this.buffer.set(data.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      this.bytesWritten += n;
      if (this.used === this.partBytes) await this.flushPart();
    }
  }

  private async flushPart(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.started) {
      this.started = true;
      await this.begin();
    }
    while (this.parts.length >= this.maxParts) await this.parts.shift();
    if (this.failure) throw this.failure;
    const n = ++this.partCount;
    const data = this.buffer;
    this.buffer = Buffer.allocUnsafe(this.partBytes);
    this.used = 0;
    const upload = this.putPart(n, data).catch((error: unknown) => {
      this.failure ??= error;
    });
    this.parts.push(upload);
  }

  async commit(): Promise<void> {
    if (this.done) throw new Error(`writer of ${this.key} already finished`);
    this.done = true;
    try {
      if (!this.started) {
        await this.putWhole(this.buffer.subarray(0, this.used));
        return;
      }
      if (this.used > 0) {
        const n = ++this.partCount;
        const last = this.buffer.subarray(0, this.used);
        this.parts.push(
          this.putPart(n, last).catch((error: unknown) => {
            this.failure ??= error;
          }),
        );
      }
      await Promise.all(this.parts);
      if (this.failure) throw this.failure;
      await this.complete(this.partCount);
    } catch (error) {
      await this.discard().catch(() => {});
      throw error;
    } finally {
      this.buffer = Buffer.alloc(0);
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await Promise.allSettled(this.parts);
    this.buffer = Buffer.alloc(0);
    if (this.started) await this.discard().catch(() => {});
  }
}
