import { randomUUID } from 'node:crypto';
import {
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  retry,
  wrap,
} from 'cockatiel';
import { Agent, type Dispatcher, request, errors as undiciErrors } from 'undici';

export type OpenStackService = 'keystone' | 'cinder' | 'nova' | 'glance';

/** An OpenStack API answered with an error status. */
export class OpenStackHttpError extends Error {
  override readonly name = 'OpenStackHttpError';
  constructor(
    readonly service: OpenStackService,
    readonly status: number,
    readonly method: string,
    readonly url: string,
    readonly body: unknown,
    readonly requestId: string | undefined,
  ) {
    super(`${service} answered ${status} to ${method} ${redactQuery(url)}: ${faultMessage(body)}`);
  }
  get retryable() {
    return this.status >= 500 || this.status === 429;
  }
}

/** No answer: refused, reset, or too slow. */
export class OpenStackUnavailableError extends Error {
  override readonly name = 'OpenStackUnavailableError';
  constructor(
    readonly service: OpenStackService,
    readonly method: string,
    readonly url: string,
    readonly timedOut: boolean,
    cause: unknown,
  ) {
    super(
      `${service} ${timedOut ? 'did not answer in time' : 'is unreachable'} (${method} ${redactQuery(url)}: ${(cause as Error)?.message ?? cause})`,
      { cause },
    );
  }
}

export interface OpenStackHttpOptions {
  timeoutMs: number;
  /** Attempts in all, for requests that may be retried. */
  maxAttempts: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface JsonRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  json?: unknown;
  /**
   * Whether a failed attempt may be repeated. GET, HEAD, PUT and DELETE are; a POST only when the
   * caller says so (an action that is harmless twice). Creating things is made idempotent by the
   * caller instead (find-or-create by a unique name), so a timeout never duplicates a snapshot.
   */
  idempotent?: boolean;
  /** Statuses that are an answer, not an error (e.g. 404 for "is it gone?"). */
  accept?: number[];
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/**
 * JSON over HTTP to one OpenStack service: keep-alive connections (undici), a timeout per attempt,
 * retries with capped exponential backoff and jitter on 5xx, timeouts and dropped connections (never
 * on 4xx), and a circuit breaker so a dead service fails fast instead of piling up waiting calls.
 */
export class OpenStackHttp {
  private readonly dispatcher: Dispatcher;
  private readonly retrying: IPolicy;
  private readonly once: IPolicy;

  constructor(
    readonly service: OpenStackService,
    private readonly options: OpenStackHttpOptions,
    dispatcher?: Dispatcher,
  ) {
    this.dispatcher = dispatcher ?? new Agent({ keepAliveTimeout: 10_000, connections: 32 });
    const breaker = circuitBreaker(handleWhen(isServiceFailure), {
      halfOpenAfter: 5_000,
      breaker: new ConsecutiveBreaker(20),
    });
    const retryPolicy = retry(handleWhen(isServiceFailure), {
      maxAttempts: Math.max(0, options.maxAttempts - 1),
      backoff: new ExponentialBackoff({
        initialDelay: options.initialBackoffMs ?? 200,
        maxDelay: options.maxBackoffMs ?? 5_000,
      }),
    });
    this.retrying = wrap(retryPolicy, breaker);
    this.once = breaker;
  }

  async send<T = unknown>(req: JsonRequest): Promise<JsonResponse<T>> {
    const mayRetry = req.idempotent ?? req.method !== 'POST';
    const policy = mayRetry ? this.retrying : this.once;
    return policy.execute(() => this.attempt<T>(req));
  }

  private async attempt<T>(req: JsonRequest): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-openstack-request-id': `req-${randomUUID()}`,
      ...req.headers,
    };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(req.url, {
        method: req.method,
        headers,
        body,
        dispatcher: this.dispatcher,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw new OpenStackUnavailableError(this.service, req.method, req.url, isTimeout(error), error);
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw new OpenStackUnavailableError(this.service, req.method, req.url, isTimeout(error), error);
    }
    const parsed = text ? parseJson(text) : undefined;
    const requestId = headerValue(
      response.headers['x-openstack-request-id'] ?? response.headers['x-compute-request-id'],
    );
    if (response.statusCode >= 400 && !req.accept?.includes(response.statusCode)) {
      throw new OpenStackHttpError(this.service, response.statusCode, req.method, req.url, parsed, requestId);
    }
    return { status: response.statusCode, headers: response.headers, body: parsed as T };
  }

  async close() {
    await this.dispatcher.close();
  }
}

export function isServiceFailure(error: unknown): boolean {
  if (error instanceof OpenStackUnavailableError) return true;
  return error instanceof OpenStackHttpError && error.retryable;
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The message inside an OpenStack fault body (`{"itemNotFound": {"message": ...}}`, Keystone's `error`). */
export function faultMessage(body: unknown): string {
  if (body && typeof body === 'object') {
    for (const value of Object.values(body as Record<string, unknown>)) {
      if (value && typeof value === 'object' && 'message' in value)
        return String((value as { message: unknown }).message);
    }
    if ('message' in body) return String((body as { message: unknown }).message);
  }
  return typeof body === 'string' ? body.slice(0, 200) : 'no details';
}

function redactQuery(url: string) {
  return url.replace(/([?&](?:password|token)=)[^&]*/gi, '$1***');
}
