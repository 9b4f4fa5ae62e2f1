import { createHash, randomBytes } from 'node:crypto';
import { Agent, type Dispatcher, request } from 'undici';
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore, type ObjectWriter } from './object-store.js';
import {
  checkKey,
  PartWriter,
  prefixOfPath,
  type RemoteStoreOptions,
  RequestGate,
  RetryableError,
  TMP_MARK,
} from './object-store-remote.js';

/** Who we are to Swift: a Keystone token and the account's storage URL (`…/v1/AUTH_<project>`). */
export interface SwiftAuth {
  access(): Promise<{ token: string; storageUrl: string }>;
  /** Swift refused the token (401): the next access() gets a new one. */
  invalidate(token: string): void;
}

/** Objects up to this size are one PUT; larger ones Static Large Objects of segments this size. */
export const SWIFT_SEGMENT_BYTES = 32 * 1024 * 1024;
const SEGMENTS = 'segments/';
const CLAIMS = 'claims/';
/** A claim of putIfAbsent older than this is a crashed writer's and no longer counts. */
const CLAIM_TTL_MS = 60_000;

export class SwiftHttpError extends Error {
  override readonly name = 'SwiftHttpError';
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    body: string,
  ) {
    super(`Swift answered ${status} to ${method} ${path}${body ? `: ${body.slice(0, 200)}` : ''}`);
  }
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * A repository in a Swift container (`swift://container/prefix`) of the account the service's
 * Keystone token opens (catalog type `object-store`). A PUT is atomic. An object larger than a
 * segment is a Static Large Object: segments `segments/<key>/<upload id>/<n>` first, then the SLO
 * manifest (with the upload id in its metadata) makes it visible at once; segments of an upload
 * that no manifest names are the temporary objects (a crash), removed by GC. Swift has no
 * conditional PUT that every implementation honours (RGW ignores `If-None-Match: *`), so
 * putIfAbsent takes a claim first (`claims/`, earliest wins). Requests are integrity-checked (ETag),
 * bounded in concurrency and retried with backoff.
 */
export class SwiftObjectStore implements ObjectStore {
  readonly container: string;
  readonly prefix: string;
  private readonly dispatcher: Dispatcher;
  private readonly gate: RequestGate;
  private readonly timeoutMs: number;
  private readonly segmentBytes: number;

  constructor(
    readonly url: string,
    private readonly auth: SwiftAuth,
    options: RemoteStoreOptions = {},
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'swift:' || !parsed.hostname) {
      throw new Error(`repository URL ${url}: expected swift://container/prefix`);
    }
    this.container = decodeURIComponent(parsed.hostname);
    this.prefix = prefixOfPath(parsed.pathname);
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.segmentBytes = options.partBytes ?? SWIFT_SEGMENT_BYTES;
    this.dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: (options.concurrency ?? 16) * 2 });
    this.gate = new RequestGate(
      options,
      (error) => !(error instanceof SwiftHttpError) && isNetworkError(error),
    );
  }

  private full(key: string): string {
    checkKey(key);
    return `${this.prefix}${key}`;
  }

  private objectPath(fullKey: string): string {
    return `/${encodeURIComponent(this.container)}/${fullKey.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** One request (retried on 5xx, 429, 408 and network failures; once more with a new token on 401). */
  private call(
    method: 'GET' | 'HEAD' | 'PUT' | 'DELETE',
    path: string,
    options: { headers?: Record<string, string>; body?: Buffer; accept?: number[] } = {},
  ): Promise<Answer> {
    return this.gate.run(async () => {
      for (let attempt = 0; ; attempt++) {
        const { token, storageUrl } = await this.auth.access();
        let response: Dispatcher.ResponseData;
        try {
          response = await request(`${storageUrl}${path}`, {
            method,
            headers: { 'x-auth-token': token, ...options.headers },
            body: options.body,
            dispatcher: this.dispatcher,
            headersTimeout: this.timeoutMs,
            bodyTimeout: this.timeoutMs,
          });
        } catch (error) {
          throw new RetryableError(`Swift ${method} ${path}: ${(error as Error).message}`, { cause: error });
        }
        let body: Buffer;
        try {
          body = Buffer.from(await response.body.arrayBuffer());
        } catch (error) {
          throw new RetryableError(`Swift ${method} ${path}: ${(error as Error).message}`, { cause: error });
        }
        const status = response.statusCode;
        if (status === 401 && attempt === 0) {
          this.auth.invalidate(token);
          continue;
        }
        if (status >= 500 || status === 429 || status === 408) {
          throw new RetryableError(`Swift answered ${status} to ${method} ${path}`);
        }
        if (status >= 400 && !options.accept?.includes(status)) {
          throw new SwiftHttpError(status, method, path, body.toString('utf8'));
        }
        return { status, headers: response.headers, body };
      }
    });
  }

  /** Creates the container when it does not exist (a repository made on first use). */
  async prepare(): Promise<void> {
    const head = await this.call('HEAD', `/${encodeURIComponent(this.container)}`, { accept: [404] });
    if (head.status !== 404) return;
    await this.call('PUT', `/${encodeURIComponent(this.container)}`);
  }

  async get(key: string): Promise<Buffer | null> {
    const answer = await this.call('GET', this.objectPath(this.full(key)), { accept: [404] });
    return answer.status === 404 ? null : answer.body;
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafeSlow(length);
    await this.readRangeInto(key, offset, buffer);
    return buffer;
  }

  async readRangeInto(key: string, offset: number, target: Buffer): Promise<void> {
    const length = target.length;
    if (length === 0) return;
    const answer = await this.call('GET', this.objectPath(this.full(key)), {
      headers: { range: `bytes=${offset}-${offset + length - 1}` },
      accept: [404, 416],
    });
    if (answer.status === 404) throw new ObjectNotFoundError(key);
    if (answer.status === 416) throw new Error(`object ${key} is shorter than ${offset + length} bytes`);
    if (answer.status !== 206 && !(offset === 0 && answer.body.length === length)) {
      throw new Error(`Swift ignored the range of GET ${key} (answered ${answer.status})`);
    }
    if (answer.body.length < length) {
      throw new Error(
        `object ${key} is shorter than ${offset + length} bytes (read ${offset + answer.body.length})`,
      );
    }
    answer.body.copy(target, 0, 0, length);
  }

  async size(key: string): Promise<number | null> {
    const answer = await this.call('HEAD', this.objectPath(this.full(key)), { accept: [404] });
    if (answer.status === 404) return null;
    return Number(header(answer.headers, 'content-length') ?? 0);
  }

  async createWriter(key: string): Promise<ObjectWriter> {
    return new SwiftWriter(this, key, this.full(key), this.segmentBytes);
  }

  /** Internal (writers): one atomic PUT, checked by its MD5. */
  async putObject(fullKey: string, data: Buffer, headers: Record<string, string> = {}): Promise<string> {
    const etag = createHash('md5').update(data).digest('hex');
    await this.call('PUT', this.objectPath(fullKey), {
      body: data,
      headers: { etag, 'content-type': 'application/octet-stream', ...headers },
    });
    return etag;
  }

  /** Internal (writers): makes an SLO of the segments visible under `fullKey`. */
  async putManifest(
    fullKey: string,
    uploadId: string,
    segments: Array<{ fullKey: string; etag: string; size: number }>,
  ): Promise<void> {
    const manifest = segments.map((s) => ({
      path: this.objectPath(s.fullKey),
      etag: s.etag,
      size_bytes: s.size,
    }));
    const total = segments.reduce((sum, s) => sum + s.size, 0);
    await this.call('PUT', `${this.objectPath(fullKey)}?multipart-manifest=put`, {
      body: Buffer.from(JSON.stringify(manifest)),
      headers: {
        // Listings show the object's whole size through `swift_bytes` (RGW lists the manifest's own
        // size otherwise; Swift sets it itself).
        'content-type': `application/octet-stream;swift_bytes=${total}`,
        'x-object-meta-upload-id': uploadId,
      },
    });
  }

  segmentKey(fullKey: string, uploadId: string, n: number): string {
    return `${this.prefix}${SEGMENTS}${fullKey.slice(this.prefix.length)}/${uploadId}/${String(n).padStart(8, '0')}`;
  }

  async deleteFull(fullKey: string): Promise<void> {
    await this.call('DELETE', this.objectPath(fullKey), { accept: [404] });
  }

  async putIfAbsent(key: string, data: Buffer): Promise<boolean> {
    const fullKey = this.full(key);
    if ((await this.size(key)) !== null) return false;
    const claim = `${this.prefix}${CLAIMS}${key}${TMP_MARK}${String(Date.now()).padStart(15, '0')}-${randomBytes(6).toString('hex')}`;
    await this.putObject(claim, Buffer.alloc(0));
    try {
      const now = Date.now();
      const claims: string[] = [];
      for await (const object of this.listFull(`${this.prefix}${CLAIMS}${key}${TMP_MARK}`)) {
        const stamp = Number(
          object.name.slice(object.name.lastIndexOf(TMP_MARK) + TMP_MARK.length).split('-')[0],
        );
        if (object.name === claim || now - stamp < CLAIM_TTL_MS) claims.push(object.name);
      }
      claims.sort();
      if (claims[0] === claim) {
        // Ours is the earliest live claim: a later claimer sees it (or, after we remove it, the object).
        if ((await this.size(key)) !== null) return false;
        await this.putObject(fullKey, data);
        return true;
      }
      // Someone else's earlier claim: wait until their object is there.
      const deadline = Date.now() + CLAIM_TTL_MS;
      while (Date.now() < deadline) {
        if ((await this.size(key)) !== null) return false;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`Swift: ${key} was claimed by another writer that never wrote it`);
    } finally {
      await this.deleteFull(claim).catch(() => {});
    }
  }

  /** Removes the object; for a Static Large Object its segments too. */
  async delete(key: string): Promise<void> {
    const path = this.objectPath(this.full(key));
    // `multipart-manifest=delete` removes an SLO with its segments (RGW leaves a plain object alone
    // there), then a plain DELETE removes a plain object.
    await this.call('DELETE', `${path}?multipart-manifest=delete`, { accept: [404] });
    await this.call('DELETE', path, { accept: [404] });
  }

  private async *listFull(
    fullPrefix: string,
  ): AsyncIterable<{ name: string; bytes: number; last_modified: string; content_type?: string }> {
    let marker = '';
    for (;;) {
      const query = new URLSearchParams({ format: 'json', prefix: fullPrefix, limit: '10000' });
      if (marker) query.set('marker', marker);
      const answer = await this.call('GET', `/${encodeURIComponent(this.container)}?${query}`, {
        accept: [404],
      });
      if (answer.status === 404 || answer.status === 204 || answer.body.length === 0) return;
      const page = JSON.parse(answer.body.toString('utf8')) as Array<{
        name: string;
        bytes: number;
        last_modified: string;
        content_type?: string;
      }>;
      if (page.length === 0) return;
      for (const object of page) yield object;
      marker = page[page.length - 1]!.name;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const object of this.listFull(`${this.prefix}${prefix}`)) {
      const slo = /;\s*swift_bytes=(\d+)/.exec(object.content_type ?? '');
      yield {
        key: object.name.slice(this.prefix.length),
        size: slo ? Number(slo[1]) : object.bytes,
        modifiedAt: swiftDate(object.last_modified),
      };
    }
  }

  /**
   * Segments of uploads that no SLO manifest names (`<key>.tmp-<upload id>`), and claims of
   * putIfAbsent left by a crash (`claims/<key>.tmp-<stamp>`).
   */
  async *listTemporary(): AsyncIterable<ObjectInfo> {
    const uploads = new Map<string, { key: string; uploadId: string; size: number; modifiedAt: Date }>();
    for await (const object of this.listFull(`${this.prefix}${SEGMENTS}`)) {
      const rest = object.name.slice(this.prefix.length + SEGMENTS.length).split('/');
      if (rest.length < 3) continue;
      const uploadId = rest[rest.length - 2]!;
      const key = rest.slice(0, -2).join('/');
      const id = `${key}${TMP_MARK}${uploadId}`;
      const modifiedAt = swiftDate(object.last_modified);
      const known = uploads.get(id);
      if (known) {
        known.size += object.bytes;
        if (modifiedAt > known.modifiedAt) known.modifiedAt = modifiedAt;
      } else {
        uploads.set(id, { key, uploadId, size: object.bytes, modifiedAt });
      }
    }
    for (const [id, upload] of uploads) {
      const head = await this.call('HEAD', this.objectPath(`${this.prefix}${upload.key}`), { accept: [404] });
      if (head.status !== 404 && header(head.headers, 'x-object-meta-upload-id') === upload.uploadId)
        continue;
      yield { key: id, size: upload.size, modifiedAt: upload.modifiedAt };
    }
    for await (const object of this.listFull(`${this.prefix}${CLAIMS}`)) {
      yield {
        key: object.name.slice(this.prefix.length),
        size: object.bytes,
        modifiedAt: swiftDate(object.last_modified),
      };
    }
  }

  async deleteTemporary(key: string): Promise<void> {
    const at = key.indexOf(TMP_MARK);
    if (at < 0) throw new Error(`${key} is not a temporary object`);
    if (key.startsWith(CLAIMS)) {
      await this.deleteFull(`${this.prefix}${key}`);
      return;
    }
    const target = key.slice(0, at);
    const uploadId = key.slice(at + TMP_MARK.length);
    checkKey(target);
    await this.deleteUpload(`${this.prefix}${target}`, uploadId);
  }

  /** Internal (writers): removes the segments of an upload. */
  async deleteUpload(fullKey: string, uploadId: string): Promise<void> {
    const dir = `${this.prefix}${SEGMENTS}${fullKey.slice(this.prefix.length)}/${uploadId}/`;
    const names: string[] = [];
    for await (const object of this.listFull(dir)) names.push(object.name);
    for (const name of names) await this.deleteFull(name);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

class SwiftWriter extends PartWriter {
  private readonly uploadId = randomBytes(8).toString('hex');
  private readonly segments: Array<{ fullKey: string; etag: string; size: number }> = [];

  constructor(
    private readonly store: SwiftObjectStore,
    key: string,
    private readonly fullKey: string,
    segmentBytes: number,
  ) {
    super(key, segmentBytes);
  }

  protected async putWhole(data: Buffer): Promise<void> {
    await this.store.putObject(this.fullKey, data);
  }

  protected async begin(): Promise<void> {}

  protected async putPart(n: number, data: Buffer): Promise<void> {
    const fullKey = this.store.segmentKey(this.fullKey, this.uploadId, n);
    const etag = await this.store.putObject(fullKey, data);
    this.segments[n - 1] = { fullKey, etag, size: data.length };
  }

  protected complete(count: number): Promise<void> {
    return this.store.putManifest(this.fullKey, this.uploadId, this.segments.slice(0, count));
  }

  protected discard(): Promise<void> {
    return this.store.deleteUpload(this.fullKey, this.uploadId);
  }
}

function header(headers: Answer['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Swift's listing dates are UTC, with or without a zone. */
function swiftDate(value: string): Date {
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
}

function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return typeof code === 'string' && /^(ECONN|EPIPE|ETIMEDOUT|UND_ERR)/.test(code);
}
