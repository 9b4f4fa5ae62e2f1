import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ObjectWriter } from './object-store.js';

/**
 * Encryption at rest (AES-256-GCM) of a repository. Key hierarchy:
 *
 *   operator key (REPOSITORY_KEY / REPOSITORY_KEY_FILE, 32 bytes, never in the database)
 *     └─ wraps the repository's master key (32 random bytes, made when the repository is created),
 *        kept in the repository as `keys/<key id>` (one object per operator key that may open it)
 *          └─ HKDF-SHA-256 derives: the chunk-id key (chunk ids are HMAC-SHA-256 of the plaintext,
 *             so they tell nothing about the data to someone without the key), the chunk-data key,
 *             the pack-index key and the object key (manifests).
 *
 * Rotating the operator key re-wraps the master key only (no data is rewritten; see
 * `repository-keys.ts`). Formats:
 *
 *   chunk blob     nonce (12 B, random) | ciphertext | tag (16 B); key = HMAC-SHA-256(chunk-data key,
 *                  chunk id): a blob only decrypts under its own id, so blobs cannot be swapped
 *   pack index     nonce (12 B, random) | ciphertext | tag (16 B); key = pack-index key, AAD = pack id
 *   envelope       (manifests) header 32 B: magic "OSBKCRYP", version u16, flags u16, segment size
 *                  u32, salt 16 B; then segments of `segment size` plaintext bytes (the last one
 *                  shorter, maybe empty), each ciphertext | tag (16 B); key = HMAC-SHA-256(object key,
 *                  salt), nonce = 4 zero bytes | segment number u64 BE, AAD = header | object key |
 *                  final flag (so segments can be neither reordered, dropped nor truncated away)
 */

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** What AES-256-GCM adds to a chunk blob or a pack index. */
export const BLOB_OVERHEAD = NONCE_BYTES + TAG_BYTES;

export const ENVELOPE_MAGIC = Buffer.from('OSBKCRYP', 'latin1');
const ENVELOPE_VERSION = 1;
export const ENVELOPE_HEADER_BYTES = 32;
export const ENVELOPE_SEGMENT_BYTES = 1024 * 1024;

/** A missing, wrong or unusable repository key: never garbage data. */
export class RepositoryKeyError extends Error {
  override readonly name = 'RepositoryKeyError';
}

/** An encrypted object or blob that does not decrypt (damaged, or not of this repository). */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
}

/**
 * A 32-byte key written as 64 hex digits or as base64 (standard or URL-safe, e.g. the output of
 * `openssl rand -base64 32`); surrounding white space is ignored.
 */
export function parseRepositoryKey(text: string, what = 'REPOSITORY_KEY'): Buffer {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const decoded = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (decoded.length === KEY_BYTES) return decoded;
  }
  throw new RepositoryKeyError(
    `${what}: expected a 32-byte key as 64 hex digits or base64 (make one with \`openssl rand -base64 32\`)`,
  );
}

/** A key file: the text forms of parseRepositoryKey, or exactly 32 raw bytes. */
export function readRepositoryKeyFile(file: string, what = 'REPOSITORY_KEY_FILE'): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (error) {
    throw new RepositoryKeyError(`${what}: cannot read ${file} (${(error as Error).message})`);
  }
  try {
    return parseRepositoryKey(raw.toString('latin1'), what);
  } catch (error) {
    if (raw.length === KEY_BYTES) return Buffer.from(raw);
    throw error;
  }
}

/** The public name of an operator key (names `keys/<id>`; tells nothing about the key). */
export function operatorKeyId(operatorKey: Buffer): string {
  return createHmac('sha256', operatorKey).update('openstack-backup key id').digest('hex').slice(0, 16);
}

const WRAP_FORMAT = 'openstack-backup-repository-key';

export interface WrappedKeyObject {
  format: typeof WRAP_FORMAT;
  version: 1;
  keyId: string;
  repositoryId: string;
  algorithm: 'aes-256-gcm';
  /** base64: nonce | ciphertext of the master key | tag */
  wrappedKey: string;
  createdAt: string;
}

export function keyObjectKey(keyId: string): string {
  if (!/^[0-9a-f]{16}$/.test(keyId)) throw new RepositoryKeyError(`invalid key id ${JSON.stringify(keyId)}`);
  return `keys/${keyId}`;
}

function wrappingKey(operatorKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', operatorKey, Buffer.alloc(0), 'openstack-backup key wrapping', 32));
}

/** The master key wrapped by an operator key, as the JSON object `keys/<key id>` holds. */
export function wrapMasterKey(
  masterKey: Buffer,
  operatorKey: Buffer,
  repositoryId: string,
): WrappedKeyObject {
  const keyId = operatorKeyId(operatorKey);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey(operatorKey), nonce);
  cipher.setAAD(Buffer.from(`${repositoryId}:${keyId}`, 'utf8'));
  const sealed = Buffer.concat([nonce, cipher.update(masterKey), cipher.final(), cipher.getAuthTag()]);
  return {
    format: WRAP_FORMAT,
    version: 1,
    keyId,
    repositoryId,
    algorithm: 'aes-256-gcm',
    wrappedKey: sealed.toString('base64'),
    createdAt: new Date().toISOString(),
  };
}

export function unwrapMasterKey(object: unknown, operatorKey: Buffer, repositoryId: string): Buffer {
  const o = object as Partial<WrappedKeyObject> | null;
  const keyId = operatorKeyId(operatorKey);
  if (
    !o ||
    o.format !== WRAP_FORMAT ||
    o.version !== 1 ||
    o.algorithm !== 'aes-256-gcm' ||
    typeof o.wrappedKey !== 'string'
  ) {
    throw new RepositoryKeyError(`key object keys/${keyId} is not a wrapped repository key`);
  }
  if (o.repositoryId !== repositoryId || o.keyId !== keyId) {
    throw new RepositoryKeyError(
      `key object keys/${keyId} belongs to repository ${o.repositoryId} (key ${o.keyId}), not ${repositoryId}`,
    );
  }
  const sealed = Buffer.from(o.wrappedKey, 'base64');
  if (sealed.length !== NONCE_BYTES + KEY_BYTES + TAG_BYTES) {
    throw new RepositoryKeyError(`key object keys/${keyId}: wrapped key has the wrong length`);
  }
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      wrappingKey(operatorKey),
      sealed.subarray(0, NONCE_BYTES),
    );
    decipher.setAAD(Buffer.from(`${repositoryId}:${keyId}`, 'utf8'));
    decipher.setAuthTag(sealed.subarray(NONCE_BYTES + KEY_BYTES));
    return Buffer.concat([
      decipher.update(sealed.subarray(NONCE_BYTES, NONCE_BYTES + KEY_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new RepositoryKeyError(
      `key object keys/${keyId} does not open with the configured key (damaged, or not made with this key)`,
    );
  }
}

function derive(masterKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `openstack-backup ${purpose}`, 32));
}

/** The keys of an open encrypted repository (derived from its master key). */
export class RepositoryCrypto {
  /** HMAC-SHA-256 key of chunk ids. */
  readonly idKey: Buffer;
  /** Per-chunk keys are HMAC-SHA-256(dataKey, chunk id). */
  readonly dataKey: Buffer;
  private readonly indexKey: Buffer;
  private readonly objectKey: Buffer;

  constructor(
    private readonly masterKey: Buffer,
    /** The operator key's id that opened the repository (for messages). */
    readonly keyId: string,
  ) {
    if (masterKey.length !== KEY_BYTES) throw new RepositoryKeyError('the master key must be 32 bytes');
    this.idKey = derive(masterKey, 'chunk id');
    this.dataKey = derive(masterKey, 'chunk data');
    this.indexKey = derive(masterKey, 'pack index');
    this.objectKey = derive(masterKey, 'object envelope');
  }

  /** The master key wrapped by another operator key (adding a key to the repository). */
  wrapFor(operatorKey: Buffer, repositoryId: string): WrappedKeyObject {
    return wrapMasterKey(this.masterKey, operatorKey, repositoryId);
  }

  /** The id of a chunk (as the workers compute it): HMAC-SHA-256 of its plaintext, hex. */
  chunkId(plaintext: Uint8Array): string {
    return createHmac('sha256', this.idKey).update(plaintext).digest('hex');
  }

  /** One blob (as the workers make them): nonce | AES-256-GCM(stored bytes) | tag. */
  encryptBlob(chunkId: string, stored: Uint8Array): Buffer {
    return sealBlob(chunkKeyOf(this.dataKey, chunkId), stored);
  }

  decryptBlob(chunkId: string, blob: Uint8Array): Buffer {
    return openBlob(chunkKeyOf(this.dataKey, chunkId), blob, `chunk ${chunkId}`);
  }

  encryptPackIndex(packId: string, index: Uint8Array): Buffer {
    return sealBlob(this.indexKey, index, Buffer.from(packId, 'latin1'));
  }

  decryptPackIndex(packId: string, sealed: Uint8Array): Buffer {
    return openBlob(this.indexKey, sealed, `the index of pack ${packId}`, Buffer.from(packId, 'latin1'));
  }

  /** Keys handed to the worker threads. */
  get workerKeys(): { idKey: Uint8Array; dataKey: Uint8Array } {
    return { idKey: this.idKey, dataKey: this.dataKey };
  }

  envelopeKey(salt: Uint8Array): Buffer {
    return createHmac('sha256', this.objectKey).update(salt).digest();
  }
}

export function chunkKeyOf(dataKey: Uint8Array, chunkId: string): Buffer {
  return createHmac('sha256', dataKey).update(Buffer.from(chunkId, 'hex')).digest();
}

function sealBlob(key: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) cipher.setAAD(aad);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function openBlob(key: Uint8Array, sealed: Uint8Array, what: string, aad?: Uint8Array): Buffer {
  if (sealed.length < BLOB_OVERHEAD) throw new DecryptionError(`${what} is too short to be encrypted data`);
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, NONCE_BYTES));
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new DecryptionError(`${what} does not decrypt with the repository key (damaged or tampered with)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Envelope: a streamed object (a manifest) encrypted in segments, readable at any offset.

function envelopeNonce(segment: number): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  nonce.writeBigUInt64BE(BigInt(segment), 4);
  return nonce;
}

function envelopeAad(header: Buffer, objectKey: string, final: boolean): Buffer {
  return Buffer.concat([header, Buffer.from(objectKey, 'utf8'), Buffer.from([final ? 1 : 0])]);
}

/** Encrypts what is written into segments of an envelope; commit() seals the final segment. */
export class EnvelopeWriter implements ObjectWriter {
  /** Plaintext bytes written. */
  bytesWritten = 0;
  private readonly header: Buffer;
  private readonly segmentKey: Buffer;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private segment = 0;
  private started = false;

  constructor(
    private readonly inner: ObjectWriter,
    crypto: RepositoryCrypto,
    private readonly segmentBytes = ENVELOPE_SEGMENT_BYTES,
  ) {
    const salt = randomBytes(16);
    this.header = Buffer.alloc(ENVELOPE_HEADER_BYTES);
    ENVELOPE_MAGIC.copy(this.header, 0);
    this.header.writeUInt16LE(ENVELOPE_VERSION, 8);
    this.header.writeUInt16LE(0, 10);
    this.header.writeUInt32LE(segmentBytes, 12);
    salt.copy(this.header, 16);
    this.segmentKey = crypto.envelopeKey(salt);
  }

  get key(): string {
    return this.inner.key;
  }

  /** Bytes of the stored (encrypted) object so far. */
  get storedBytes(): number {
    return this.inner.bytesWritten;
  }

  async write(data: Uint8Array): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.inner.write(this.header);
    }
    this.pending.push(Buffer.from(data)); // a copy: the caller may reuse its buffer
    this.pendingBytes += data.length;
    this.bytesWritten += data.length;
    // A full segment goes out once more data follows it (the last one carries the final flag).
    while (this.pendingBytes > this.segmentBytes) {
      const all = Buffer.concat(this.pending);
      await this.inner.write(this.seal(all.subarray(0, this.segmentBytes), false));
      const rest = Buffer.from(all.subarray(this.segmentBytes));
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
  }

  private seal(plaintext: Buffer, final: boolean): Buffer {
    const cipher = createCipheriv('aes-256-gcm', this.segmentKey, envelopeNonce(this.segment++));
    cipher.setAAD(envelopeAad(this.header, this.inner.key, final));
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  async commit(): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.inner.write(this.header);
    }
    await this.inner.write(this.seal(Buffer.concat(this.pending), true));
    this.pending = [];
    this.pendingBytes = 0;
    await this.inner.commit();
  }

  abort(): Promise<void> {
    return this.inner.abort();
  }
}

/** Random access to an object's bytes (a plain object, or the plaintext of an envelope). */
export interface ByteSource {
  readonly size: number;
  readRange(offset: number, length: number): Promise<Buffer>;
}

/** The plaintext of an envelope, decrypted segment by segment (the last one used is kept). */
export class EnvelopeReader implements ByteSource {
  readonly size: number;
  private readonly key: Buffer;
  private readonly segmentBytes: number;
  private readonly segments: number;
  private cached: { segment: number; data: Buffer } | null = null;

  constructor(
    private readonly read: (offset: number, length: number) => Promise<Buffer>,
    private readonly objectKey: string,
    private readonly header: Buffer,
    private readonly storedSize: number,
    crypto: RepositoryCrypto,
  ) {
    if (!header.subarray(0, 8).equals(ENVELOPE_MAGIC)) {
      throw new DecryptionError(`${objectKey} is not an encrypted object`);
    }
    const version = header.readUInt16LE(8);
    if (version !== ENVELOPE_VERSION)
      throw new DecryptionError(`${objectKey}: unsupported envelope version ${version}`);
    this.segmentBytes = header.readUInt32LE(12);
    const body = storedSize - ENVELOPE_HEADER_BYTES;
    if (this.segmentBytes < 1 || body < TAG_BYTES)
      throw new DecryptionError(`${objectKey}: truncated envelope`);
    this.segments = Math.ceil(body / (this.segmentBytes + TAG_BYTES));
    this.size = body - this.segments * TAG_BYTES;
    if (this.size < (this.segments - 1) * this.segmentBytes) {
      throw new DecryptionError(`${objectKey}: truncated envelope`);
    }
    this.key = crypto.envelopeKey(header.subarray(16, 32));
  }

  private decrypt(n: number, sealed: Buffer): Buffer {
    const final = n === this.segments - 1;
    let data: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, envelopeNonce(n));
      decipher.setAAD(envelopeAad(this.header, this.objectKey, final));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      data = Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new DecryptionError(
        `${this.objectKey}: segment ${n} does not decrypt with the repository key (damaged, truncated or tampered with)`,
      );
    }
    this.cached = { segment: n, data };
    return data;
  }

  async readRange(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || offset + length > this.size) {
      throw new Error(`${this.objectKey}: range ${offset}+${length} beyond its ${this.size} bytes`);
    }
    if (length === 0) return Buffer.alloc(0);
    const sealedBytes = this.segmentBytes + TAG_BYTES;
    const first = Math.floor(offset / this.segmentBytes);
    const last = Math.floor((offset + length - 1) / this.segmentBytes);
    // The segments not cached, in one request.
    const fetchFrom = this.cached?.segment === first ? first + 1 : first;
    let fetched: Buffer | null = null;
    if (fetchFrom <= last) {
      const start = ENVELOPE_HEADER_BYTES + fetchFrom * sealedBytes;
      const end = Math.min(this.storedSize, ENVELOPE_HEADER_BYTES + (last + 1) * sealedBytes);
      fetched = await this.read(start, end - start);
    }
    const parts: Buffer[] = [];
    for (let n = first; n <= last; n++) {
      let data: Buffer;
      if (this.cached?.segment === n) {
        data = this.cached.data;
      } else {
        const at = (n - fetchFrom) * sealedBytes;
        data = this.decrypt(n, fetched!.subarray(at, Math.min(fetched!.length, at + sealedBytes)));
      }
      const segStart = n * this.segmentBytes;
      const from = Math.max(offset, segStart) - segStart;
      const to = Math.min(offset + length, segStart + data.length) - segStart;
      parts.push(data.subarray(from, to));
    }
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
  }
}

/**
 * An object's plaintext: the object itself in an unencrypted repository, the envelope's plaintext in
 * an encrypted one (a plain object there, or an envelope in an unencrypted one, is refused). Null
 * when the object does not exist.
 */
export async function openObjectSource(
  store: {
    size(key: string): Promise<number | null>;
    readRange(key: string, offset: number, length: number): Promise<Buffer>;
  },
  key: string,
  crypto: RepositoryCrypto | null,
): Promise<ByteSource | null> {
  const size = await store.size(key);
  if (size === null) return null;
  const read = (offset: number, length: number) => store.readRange(key, offset, length);
  const head = await read(0, Math.min(size, ENVELOPE_HEADER_BYTES));
  const enveloped = head.length >= 8 && head.subarray(0, 8).equals(ENVELOPE_MAGIC);
  if (crypto) {
    if (!enveloped || head.length < ENVELOPE_HEADER_BYTES) {
      throw new DecryptionError(`${key} is not encrypted, but its repository is: refused (replaced?)`);
    }
    return new EnvelopeReader(read, key, head, size, crypto);
  }
  if (enveloped) {
    throw new RepositoryKeyError(`${key} is encrypted, but its repository is not: refused`);
  }
  return {
    size,
    readRange: (offset, length) =>
      offset + length <= head.length
        ? Promise.resolve(Buffer.from(head.subarray(offset, offset + length)))
        : read(offset, length),
  };
}
