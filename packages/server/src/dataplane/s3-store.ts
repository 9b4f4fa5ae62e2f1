import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore, type ObjectWriter } from './object-store.js';
import {
  checkKey,
  PartWriter,
  prefixOfPath,
  type RemoteStoreOptions,
  RequestGate,
  TMP_MARK,
} from './object-store-remote.js';

// The project runs on Node 20 on purpose (see README); the SDK's notice about its future Node 22
// requirement is not news to an operator.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3Settings {
  /** Endpoint of a non-AWS S3 (e.g. Ceph RGW, MinIO). Unset: AWS for the region. */
  endpoint?: string;
  region?: string;
  /** Unset: the SDK's default chain (AWS_ACCESS_KEY_ID…, profiles, instance roles). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style requests (`endpoint/bucket/key`), as most non-AWS S3 need. */
  forcePathStyle?: boolean;
}

/** S3 multipart uploads need parts of at least 5 MiB (but the last). */
export const S3_PART_BYTES = 8 * 1024 * 1024;

/**
 * A repository in an S3 bucket (`s3://bucket/prefix`): one object per key under the prefix. A PUT
 * and a completed multipart upload are atomic (the object appears whole or not at all); objects
 * larger than a part are multipart uploads whose unfinished leftovers (a crash) are the temporary
 * objects, listed with ListMultipartUploads and removed by AbortMultipartUpload. Each request is
 * integrity-checked (Content-MD5), bounded in concurrency and retried with backoff.
 */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly gate: RequestGate;
  private readonly partBytes: number;
  private readonly region: string;

  constructor(
    readonly url: string,
    settings: S3Settings,
    options: RemoteStoreOptions = {},
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== 's3:' || !parsed.hostname) {
      throw new Error(`repository URL ${url}: expected s3://bucket/prefix`);
    }
    this.bucket = parsed.hostname;
    this.prefix = prefixOfPath(parsed.pathname);
    this.partBytes = Math.max(5 * 1024 * 1024, options.partBytes ?? S3_PART_BYTES);
    const timeoutMs = options.timeoutMs ?? 120_000;
    this.region = settings.region ?? 'us-east-1';
    this.client = new S3Client({
      region: this.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.forcePathStyle ?? settings.endpoint !== undefined,
      ...(settings.accessKeyId && settings.secretAccessKey
        ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
        : {}),
      // Content-MD5 on every upload instead of the SDK's newer trailing checksums (many S3s lack them).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Retries are ours (RequestGate), also around reading a response body.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: 10_000,
        requestTimeout: timeoutMs,
        httpAgent: { keepAlive: true, maxSockets: (options.concurrency ?? 16) * 2 },
      },
    });
    this.gate = new RequestGate(options, isRetryableS3Error);
  }

  private full(key: string): string {
    checkKey(key);
    return `${this.prefix}${key}`;
  }

  /** Creates the bucket when it does not exist (a repository made on first use). */
  async prepare(): Promise<void> {
    try {
      await this.gate.run(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw describe(error, `bucket ${this.bucket}`);
    }
    try {
      await this.gate.run(() =>
        this.client.send(
          new CreateBucketCommand({
            Bucket: this.bucket,
            // AWS wants the region named, except for us-east-1.
            ...(this.region !== 'us-east-1'
              ? { CreateBucketConfiguration: { LocationConstraint: this.region as never } }
              : {}),
          }),
        ),
      );
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists')
        throw describe(error, `creating bucket ${this.bucket}`);
    }
  }

  async get(key: string): Promise<Buffer | null> {
    const Key = this.full(key);
    try {
      return await this.gate.run(async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
        return Buffer.from(await out.Body!.transformToByteArray());
      });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw describe(error, `GET ${key}`);
    }
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafeSlow(length);
    await this.readRangeInto(key, offset, buffer);
    return buffer;
  }

  async readRangeInto(key: string, offset: number, target: Buffer): Promise<void> {
    const length = target.length;
    if (length === 0) return;
    const Key = this.full(key);
    try {
      await this.gate.run(async () => {
        const out = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key, Range: `bytes=${offset}-${offset + length - 1}` }),
        );
        const done = await readInto(out.Body as Readable, target);
        if (done !== length) {
          const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
          if (total !== undefined && Number(total) < offset + length) {
            throw new Error(`object ${key} is shorter than ${offset + length} bytes (${total})`);
          }
          throw Object.assign(new Error(`short read of ${key}: ${done} of ${length} bytes`), {
            retryable: true,
          });
        }
      });
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      if (statusOf(error) === 416) throw new Error(`object ${key} is shorter than ${offset + length} bytes`);
      throw describe(error, `GET ${key} (range ${offset}+${length})`);
    }
  }

  async size(key: string): Promise<number | null> {
    const Key = this.full(key);
    try {
      const out = await this.gate.run(() =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key })),
      );
      return out.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw describe(error, `HEAD ${key}`);
    }
  }

  async createWriter(key: string): Promise<ObjectWriter> {
    return new S3Writer(this, key, this.full(key), this.partBytes);
  }

  async putIfAbsent(key: string, data: Buffer): Promise<boolean> {
    const Key = this.full(key);
    try {
      await this.gate.run(() =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: data,
            ContentMD5: md5(data),
            IfNoneMatch: '*',
          }),
        ),
      );
      return true;
    } catch (error) {
      const status = statusOf(error);
      if (status === 412) return false;
      if (status === 409 && (await this.size(key)) !== null) return false; // a concurrent conditional write
      throw describe(error, `PUT ${key}`);
    }
  }

  /** Internal (writers): one atomic PUT. */
  async putObject(fullKey: string, data: Buffer): Promise<void> {
    try {
      await this.gate.run(() =>
        this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: fullKey, Body: data, ContentMD5: md5(data) }),
        ),
      );
    } catch (error) {
      throw describe(error, `PUT ${fullKey}`);
    }
  }

  async beginUpload(fullKey: string): Promise<string> {
    try {
      const out = await this.gate.run(() =>
        this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey })),
      );
      if (!out.UploadId) throw new Error('no UploadId in the answer');
      return out.UploadId;
    } catch (error) {
      throw describe(error, `starting an upload of ${fullKey}`);
    }
  }

  async uploadPart(fullKey: string, uploadId: string, partNumber: number, data: Buffer): Promise<string> {
    try {
      const out = await this.gate.run(() =>
        this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: fullKey,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: data,
            ContentMD5: md5(data),
          }),
        ),
      );
      if (!out.ETag) throw new Error('no ETag in the answer');
      return out.ETag;
    } catch (error) {
      throw describe(error, `uploading part ${partNumber} of ${fullKey}`);
    }
  }

  async completeUpload(fullKey: string, uploadId: string, etags: string[]): Promise<void> {
    try {
      await this.gate.run(() =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: fullKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          }),
        ),
      );
    } catch (error) {
      throw describe(error, `completing the upload of ${fullKey}`);
    }
  }

  async abortUpload(fullKey: string, uploadId: string): Promise<void> {
    try {
      await this.gate.run(() =>
        this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }),
        ),
      );
    } catch (error) {
      if (isNotFound(error) || (error as Error).name === 'NoSuchUpload') return;
      throw describe(error, `aborting the upload of ${fullKey}`);
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.full(key);
    try {
      await this.gate.run(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })));
    } catch (error) {
      if (isNotFound(error)) return;
      throw describe(error, `DELETE ${key}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.gate
        .run(() =>
          this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: `${this.prefix}${prefix}`,
              ContinuationToken: token,
            }),
          ),
        )
        .catch((error: unknown) => {
          if (statusOf(error) === 404) return { Contents: [], NextContinuationToken: undefined };
          throw describe(error, `listing ${prefix}`);
        });
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        yield {
          key: object.Key.slice(this.prefix.length),
          size: object.Size ?? 0,
          modifiedAt: object.LastModified ?? new Date(0),
        };
      }
      token = page.NextContinuationToken;
    } while (token);
  }

  /** Unfinished multipart uploads under the prefix, as `<key>.tmp-<upload id>`. */
  async *listTemporary(): AsyncIterable<ObjectInfo> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.gate
        .run(() =>
          this.client.send(
            new ListMultipartUploadsCommand({
              Bucket: this.bucket,
              Prefix: this.prefix,
              KeyMarker: keyMarker,
              UploadIdMarker: uploadIdMarker,
            }),
          ),
        )
        .catch((error: unknown) => {
          if (statusOf(error) === 404)
            return {
              Uploads: [],
              IsTruncated: false,
              NextKeyMarker: undefined,
              NextUploadIdMarker: undefined,
            };
          throw describe(error, 'listing unfinished uploads');
        });
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId) continue;
        yield {
          key: `${upload.Key.slice(this.prefix.length)}${TMP_MARK}${upload.UploadId}`,
          size: 0,
          modifiedAt: upload.Initiated ?? new Date(0),
        };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async deleteTemporary(key: string): Promise<void> {
    const at = key.indexOf(TMP_MARK);
    if (at < 0) throw new Error(`${key} is not a temporary object`);
    await this.abortUpload(this.full(key.slice(0, at)), key.slice(at + TMP_MARK.length));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

class S3Writer extends PartWriter {
  private uploadId: string | null = null;
  private readonly etags: string[] = [];

  constructor(
    private readonly store: S3ObjectStore,
    key: string,
    private readonly fullKey: string,
    partBytes: number,
  ) {
    super(key, partBytes);
  }

  protected putWhole(data: Buffer): Promise<void> {
    return this.store.putObject(this.fullKey, data);
  }

  protected async begin(): Promise<void> {
    this.uploadId = await this.store.beginUpload(this.fullKey);
  }

  protected async putPart(n: number, data: Buffer): Promise<void> {
    this.etags[n - 1] = await this.store.uploadPart(this.fullKey, this.uploadId!, n, data);
  }

  protected complete(count: number): Promise<void> {
    return this.store.completeUpload(this.fullKey, this.uploadId!, this.etags.slice(0, count));
  }

  protected async discard(): Promise<void> {
    if (this.uploadId) await this.store.abortUpload(this.fullKey, this.uploadId);
  }
}

async function readInto(body: Readable, target: Buffer): Promise<number> {
  let done = 0;
  for await (const piece of body as AsyncIterable<Buffer>) {
    const n = Math.min(piece.length, target.length - done);
    piece.copy(target, done, 0, n);
    done += n;
    if (n < piece.length) {
      body.destroy();
      return target.length + 1; // more than asked for: the server ignored the range
    }
  }
  return done;
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND']);

export function isRetryableS3Error(error: unknown): boolean {
  if ((error as { retryable?: boolean } | undefined)?.retryable === true) return true;
  const status = statusOf(error);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  const e = error as (Error & { code?: string }) | undefined;
  if (!e) return false;
  return (
    e.name === 'TimeoutError' ||
    e.name === 'RequestTimeout' ||
    (e.code !== undefined && NETWORK_CODES.has(e.code)) ||
    /socket hang up|ECONNRESET|premature close|aborted/i.test(e.message ?? '')
  );
}

function describe(error: unknown, what: string): Error {
  if (error instanceof ObjectNotFoundError) return error;
  const e = error as Error;
  const status = statusOf(error);
  return new Error(
    `S3 ${what}: ${status ? `${status} ` : ''}${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`,
    {
      cause: error,
    },
  );
}
