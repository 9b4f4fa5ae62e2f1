import { randomBytes } from 'node:crypto';
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { syncDir } from './file-driver.js';
import type { RemoteStoreOptions } from './object-store-remote.js';
import { S3ObjectStore, type S3Settings } from './s3-store.js';
import { type SwiftAuth, SwiftObjectStore } from './swift-store.js';

export interface ObjectInfo {
  key: string;
  size: number;
  modifiedAt: Date;
}

/** Streams one object; nothing is visible under its key before commit() returns. */
export interface ObjectWriter {
  readonly key: string;
  readonly bytesWritten: number;
  write(data: Uint8Array): Promise<void>;
  /** Durable, then visible under the key (atomically). */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`object ${key} not found`);
  }
}

/**
 * Where a repository keeps its objects (config, keys, packs, manifests): `file://` (file-store
 * below), `s3://` (s3-store.ts: multipart uploads for large writers, range GETs for reads) and
 * `swift://` (swift-store.ts: Static Large Objects for large writers).
 */
export interface ObjectStore {
  readonly url: string;
  /** The whole object, or null when absent. */
  get(key: string): Promise<Buffer | null>;
  /** Exactly `length` bytes at `offset`; ObjectNotFoundError when absent, an error when shorter. */
  readRange(key: string, offset: number, length: number): Promise<Buffer>;
  /** Like readRange, into `target` (`target.length` bytes). */
  readRangeInto(key: string, offset: number, target: Buffer): Promise<void>;
  /** Size in bytes, or null when absent. */
  size(key: string): Promise<number | null>;
  createWriter(key: string): Promise<ObjectWriter>;
  /** Creates the object unless one exists already (atomically); false when it existed. */
  putIfAbsent(key: string, data: Buffer): Promise<boolean>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
  /** Committed objects whose key starts with `prefix` (a folder, ending in `/`). */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Leftovers of writers that never committed (crashed or aborted). */
  listTemporary(): AsyncIterable<ObjectInfo>;
  deleteTemporary(key: string): Promise<void>;
  /** Makes the place exist (bucket, container) before a repository is created there. */
  prepare?(): Promise<void>;
  /** Releases connections. */
  close?(): Promise<void>;
}

const TMP_MARK = '.tmp-';

/** What remote repositories need: S3 settings, Swift access, request limits. */
export interface ObjectStoreBackends {
  s3?: S3Settings;
  swift?: SwiftAuth;
  remote?: RemoteStoreOptions;
}

export function openObjectStore(url: string, backends: ObjectStoreBackends = {}): ObjectStore {
  const parsed = new URL(url);
  if (parsed.protocol === 'file:') {
    if (parsed.host !== '' && parsed.host !== 'localhost') {
      throw new Error(`repository URL ${url}: file URLs name a local absolute path (file:///path)`);
    }
    return new FileObjectStore(url, fileURLToPath(parsed));
  }
  if (parsed.protocol === 's3:') return new S3ObjectStore(url, backends.s3 ?? {}, backends.remote);
  if (parsed.protocol === 'swift:') {
    if (!backends.swift) {
      throw new Error(`repository URL ${url}: no Swift access configured (a Keystone session is needed)`);
    }
    return new SwiftObjectStore(url, backends.swift, backends.remote);
  }
  throw new Error(
    `repository URL ${url}: unsupported scheme ${parsed.protocol} (supported: file://, s3://, swift://)`,
  );
}

export class FileObjectStore implements ObjectStore {
  private readonly madeDirs = new Set<string>();
  constructor(
    readonly url: string,
    readonly root: string,
  ) {}

  private pathOf(key: string): string {
    if (
      key.split('/').some((part) => part === '' || part === '.' || part === '..') ||
      key.includes(TMP_MARK)
    ) {
      throw new Error(`invalid object key ${JSON.stringify(key)}`);
    }
    return path.join(this.root, key);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafeSlow(length);
    await this.readRangeInto(key, offset, buffer);
    return buffer;
  }

  async readRangeInto(key: string, offset: number, target: Buffer): Promise<void> {
    const length = target.length;
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(key), 'r');
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      throw error;
    }
    try {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(target, done, length - done, offset + done);
        if (bytesRead === 0) {
          throw new Error(`object ${key} is shorter than ${offset + length} bytes (read ${offset + done})`);
        }
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async createWriter(key: string): Promise<ObjectWriter> {
    const file = this.pathOf(key);
    await this.ensureDir(path.dirname(file));
    const tmp = `${file}${TMP_MARK}${randomBytes(6).toString('hex')}`;
    const fh = await open(tmp, 'wx', 0o644);
    return new FileObjectWriter(key, file, tmp, fh);
  }

  async putIfAbsent(key: string, data: Buffer): Promise<boolean> {
    const file = this.pathOf(key);
    await this.ensureDir(path.dirname(file));
    const tmp = `${file}${TMP_MARK}${randomBytes(6).toString('hex')}`;
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, file); // fails with EEXIST instead of replacing
      await syncDir(path.dirname(file));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await unlink(file);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    await syncDir(path.dirname(file));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const info of this.walk(prefix)) {
      if (!info.key.includes(TMP_MARK)) yield info;
    }
  }

  async *listTemporary(): AsyncIterable<ObjectInfo> {
    for await (const info of this.walk('')) {
      if (info.key.includes(TMP_MARK)) yield info;
    }
  }

  async deleteTemporary(key: string): Promise<void> {
    if (!key.includes(TMP_MARK)) throw new Error(`${key} is not a temporary object`);
    await rm(path.join(this.root, key), { force: true });
  }

  private async *walk(prefix: string): AsyncIterable<ObjectInfo> {
    const dir = path.join(this.root, prefix);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const key = prefix === '' ? entry.name : `${prefix.replace(/\/$/, '')}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* this.walk(`${key}/`);
      } else if (entry.isFile()) {
        try {
          const st = await stat(path.join(this.root, key));
          yield { key, size: st.size, modifiedAt: st.mtime };
        } catch (error) {
          if (!isNotFound(error)) throw error; // removed meanwhile
        }
      }
    }
  }
}

class FileObjectWriter implements ObjectWriter {
  bytesWritten = 0;
  private done = false;
  constructor(
    readonly key: string,
    private readonly file: string,
    private readonly tmp: string,
    private readonly fh: FileHandle,
  ) {}

  async write(data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, this.bytesWritten);
      done += bytesWritten;
      this.bytesWritten += bytesWritten;
    }
  }

  async commit(): Promise<void> {
    if (this.done) throw new Error(`writer of ${this.key} already finished`);
    this.done = true;
    try {
      await this.fh.sync();
    } catch (error) {
      await this.fh.close().catch(() => {});
      await rm(this.tmp, { force: true });
      throw error;
    }
    await this.fh.close();
    await rename(this.tmp, this.file);
    await syncDir(path.dirname(this.file));
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => {});
    await rm(this.tmp, { force: true });
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
