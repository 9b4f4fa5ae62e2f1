import { createHash, type Hash } from 'node:crypto';
import {
  type ByteSource,
  DecryptionError,
  EnvelopeWriter,
  openObjectSource,
  type RepositoryCrypto,
} from './crypto.js';
import { ManifestNotFoundError } from './errors.js';
import type { ObjectStore, ObjectWriter } from './object-store.js';
import type { BackupRecord } from './types.js';

/**
 * Manifest object format (`manifests/<backup id>`; integers little-endian):
 *
 *   header   magic "OSBKMANI", version u16, flags u16, header length u32, header (UTF-8 JSON:
 *            backupId, volumeId, sizeBytes, chunkSize, createdAt, parentBackupId; version 2 adds
 *            `record`, what the service's database holds about the backup, for recovery without it)
 *   entries  one per non-zero chunk, in increasing chunk index: LEB128 varint of
 *            (index - previous index - 1) (the first: index), then the chunk id (32 bytes, SHA-256)
 *   footer   56 B: entry count u64, logical bytes u64, SHA-256 of everything before the footer (32 B),
 *            magic "OSBKMEND"
 *
 * Written in one pass (streaming) and read in one pass; the footer's digest catches damage. In an
 * encrypted repository all of it is the plaintext of an envelope (crypto.ts): nothing but its size
 * is visible without the key. Version 1 (no record) is still read.
 */
const MAGIC = Buffer.from('OSBKMANI', 'latin1');
const END_MAGIC = Buffer.from('OSBKMEND', 'latin1');
const VERSION = 2;
const READABLE_VERSIONS = new Set([1, 2]);
const FIXED_HEADER = 16;
const FOOTER_SIZE = 56;
const WRITE_BUFFER = 1024 * 1024;
const READ_BUFFER = 1024 * 1024;
const MAX_ENTRY = 10 + 32;

export interface ManifestHeader {
  backupId: string;
  volumeId: string;
  sizeBytes: number;
  chunkSize: number;
  createdAt: string;
  parentBackupId: string | null;
  /** Version 2: the backup's record (absent in version 1 manifests and when the caller gave none). */
  record?: BackupRecord;
}

export interface ManifestEntry {
  index: number;
  id: string;
}

export function manifestKey(backupId: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(backupId) || backupId.startsWith('.')) {
    throw new Error(`invalid backup id ${JSON.stringify(backupId)}`);
  }
  return `manifests/${backupId}`;
}

export class ManifestCorruptError extends Error {
  override readonly name = 'ManifestCorruptError';
}

export class ManifestWriter {
  entryCount = 0;
  logicalBytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private buffer = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  private lastIndex = -1;
  private readonly lastChunk: number;

  private constructor(
    private readonly writer: ObjectWriter,
    readonly header: ManifestHeader,
  ) {
    this.lastChunk = Math.ceil(header.sizeBytes / header.chunkSize) - 1;
  }

  static async create(
    store: ObjectStore,
    header: ManifestHeader,
    crypto: RepositoryCrypto | null = null,
  ): Promise<ManifestWriter> {
    const raw = await store.createWriter(manifestKey(header.backupId));
    const writer = crypto ? new EnvelopeWriter(raw, crypto) : raw;
    const manifest = new ManifestWriter(writer, header);
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const fixed = Buffer.alloc(FIXED_HEADER);
    MAGIC.copy(fixed, 0);
    fixed.writeUInt16LE(VERSION, 8);
    fixed.writeUInt16LE(0, 10);
    fixed.writeUInt32LE(json.length, 12);
    await manifest.emit(fixed);
    await manifest.emit(json);
    return manifest;
  }

  /** Raw bytes of the chunk at `index` (the last chunk may be short). */
  rawLengthOf(index: number): number {
    const { chunkSize, sizeBytes } = this.header;
    return Math.min(chunkSize, sizeBytes - index * chunkSize);
  }

  /** Appends an entry; indexes must increase. Returns a promise only when the buffer was flushed. */
  add(index: number, id: string): Promise<void> | undefined {
    if (index <= this.lastIndex || index > this.lastChunk) {
      throw new Error(
        `manifest entry ${index} out of order (after ${this.lastIndex}, last ${this.lastChunk})`,
      );
    }
    let delta = index - this.lastIndex - 1;
    this.lastIndex = index;
    const buf = this.buffer;
    let at = this.used;
    while (delta >= 0x80) {
      buf[at++] = (delta % 0x80) | 0x80;
      delta = Math.floor(delta / 0x80);
    }
    buf[at++] = delta;
    buf.write(id, at, 32, 'hex');
    this.used = at + 32;
    this.entryCount++;
    this.logicalBytes += this.rawLengthOf(index);
    if (this.used > WRITE_BUFFER - MAX_ENTRY) return this.flush();
    return undefined;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const out = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(WRITE_BUFFER);
    this.used = 0;
    await this.emit(out);
  }

  private async emit(data: Buffer): Promise<void> {
    this.hash.update(data);
    await this.writer.write(data);
  }

  /** Writes the footer, makes the manifest durable and visible. Returns its size (as stored). */
  async commit(): Promise<number> {
    await this.flush();
    const footer = Buffer.alloc(FOOTER_SIZE);
    footer.writeBigUInt64LE(BigInt(this.entryCount), 0);
    footer.writeBigUInt64LE(BigInt(this.logicalBytes), 8);
    this.hash.digest().copy(footer, 16);
    END_MAGIC.copy(footer, 48);
    await this.writer.write(footer);
    await this.writer.commit();
    return this.writer instanceof EnvelopeWriter ? this.writer.storedBytes : this.writer.bytesWritten;
  }

  abort(): Promise<void> {
    return this.writer.abort();
  }
}

/** Streams a manifest's entries in index order; the digest is checked when the end is reached. */
export class ManifestReader {
  private constructor(
    private readonly source: ByteSource,
    private readonly objectSize: number,
    readonly header: ManifestHeader,
    private readonly headerBytes: Buffer,
    readonly entryCount: number,
    readonly logicalBytes: number,
    private readonly digest: Buffer,
  ) {}

  /**
   * Opens a manifest (with the repository's keys when it is encrypted). Throws ManifestNotFoundError,
   * ManifestCorruptError, and DecryptionError (crypto.ts) when it does not decrypt.
   */
  static async open(
    store: ObjectStore,
    backupId: string,
    crypto: RepositoryCrypto | null = null,
  ): Promise<ManifestReader> {
    try {
      return await ManifestReader.openSource(store, backupId, crypto);
    } catch (error) {
      if (error instanceof DecryptionError) {
        throw new ManifestCorruptError(`manifest of ${backupId}: ${error.message}`);
      }
      throw error;
    }
  }

  private static async openSource(
    store: ObjectStore,
    backupId: string,
    crypto: RepositoryCrypto | null,
  ): Promise<ManifestReader> {
    const key = manifestKey(backupId);
    const source = await openObjectSource(store, key, crypto);
    if (source === null) throw new ManifestNotFoundError(backupId);
    const size = source.size;
    if (size < FIXED_HEADER + FOOTER_SIZE)
      throw new ManifestCorruptError(`manifest of ${backupId} is truncated`);
    const fixed = await source.readRange(0, FIXED_HEADER);
    if (!fixed.subarray(0, 8).equals(MAGIC))
      throw new ManifestCorruptError(`manifest of ${backupId}: bad magic`);
    const version = fixed.readUInt16LE(8);
    if (!READABLE_VERSIONS.has(version))
      throw new ManifestCorruptError(`manifest of ${backupId}: unsupported version ${version}`);
    const jsonLength = fixed.readUInt32LE(12);
    if (FIXED_HEADER + jsonLength + FOOTER_SIZE > size) {
      throw new ManifestCorruptError(`manifest of ${backupId}: header does not fit`);
    }
    const json = await source.readRange(FIXED_HEADER, jsonLength);
    const footer = await source.readRange(size - FOOTER_SIZE, FOOTER_SIZE);
    if (!footer.subarray(48, 56).equals(END_MAGIC)) {
      throw new ManifestCorruptError(`manifest of ${backupId}: no footer (truncated?)`);
    }
    let header: ManifestHeader;
    try {
      header = JSON.parse(json.toString('utf8')) as ManifestHeader;
    } catch {
      throw new ManifestCorruptError(`manifest of ${backupId}: unreadable header`);
    }
    if (
      typeof header.sizeBytes !== 'number' ||
      typeof header.chunkSize !== 'number' ||
      header.chunkSize <= 0 ||
      header.backupId !== backupId
    ) {
      throw new ManifestCorruptError(`manifest of ${backupId}: invalid header`);
    }
    return new ManifestReader(
      source,
      size,
      header,
      Buffer.concat([fixed, json]),
      Number(footer.readBigUInt64LE(0)),
      Number(footer.readBigUInt64LE(8)),
      footer.subarray(16, 48),
    );
  }

  get chunkCountOfVolume(): number {
    return Math.ceil(this.header.sizeBytes / this.header.chunkSize);
  }

  /** Entries in index order, `max` at a time. Throws ManifestCorruptError on damage (at the latest at the end). */
  async *batches(max = 4096): AsyncGenerator<ManifestEntry[]> {
    const hash = createHash('sha256').update(this.headerBytes);
    const end = this.objectSize - FOOTER_SIZE;
    let pos = this.headerBytes.length;
    let carry: Buffer = Buffer.alloc(0);
    let index = -1;
    let count = 0;
    let batch: ManifestEntry[] = [];
    const lastChunk = this.chunkCountOfVolume - 1;
    while (pos < end) {
      const length = Math.min(READ_BUFFER, end - pos);
      let piece: Buffer;
      try {
        piece = await this.source.readRange(pos, length);
      } catch (error) {
        if (error instanceof DecryptionError) {
          throw new ManifestCorruptError(`manifest of ${this.header.backupId}: ${error.message}`);
        }
        throw error;
      }
      hash.update(piece);
      pos += length;
      const buf = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
      let at = 0;
      const last = pos >= end;
      while (at < buf.length) {
        // Decode one entry if it is complete in `buf`.
        let delta = 0;
        let scale = 1;
        let p = at;
        let complete = false;
        while (p < buf.length) {
          const byte = buf[p++]!;
          delta += (byte & 0x7f) * scale;
          scale *= 0x80;
          if (byte < 0x80) {
            complete = true;
            break;
          }
          if (p - at > 9) throw new ManifestCorruptError(`manifest of ${this.header.backupId}: bad entry`);
        }
        if (!complete || p + 32 > buf.length) {
          if (last) throw new ManifestCorruptError(`manifest of ${this.header.backupId}: truncated entry`);
          break;
        }
        index += delta + 1;
        if (index > lastChunk) {
          throw new ManifestCorruptError(
            `manifest of ${this.header.backupId}: chunk ${index} beyond the volume`,
          );
        }
        batch.push({ index, id: buf.toString('hex', p, p + 32) });
        count++;
        at = p + 32;
        if (batch.length >= max) {
          yield batch;
          batch = [];
        }
      }
      carry = at < buf.length ? Buffer.from(buf.subarray(at)) : Buffer.alloc(0);
    }
    if (!hash.digest().equals(this.digest) || count !== this.entryCount) {
      throw new ManifestCorruptError(`manifest of ${this.header.backupId}: checksum mismatch`);
    }
    if (batch.length > 0) yield batch;
  }
}

/** A forward-only cursor over a manifest's entries (for merging the parent into a new manifest). */
export class ManifestCursor {
  private readonly iterator: AsyncIterator<ManifestEntry[]>;
  private buffer: ManifestEntry[] = [];
  private at = 0;
  private ended = false;

  constructor(reader: ManifestReader) {
    this.iterator = reader.batches(4096);
  }

  private async fill(): Promise<boolean> {
    while (this.at >= this.buffer.length) {
      if (this.ended) return false;
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.buffer = next.value;
      this.at = 0;
    }
    return true;
  }

  /** Calls `fn` for every entry with index < `end`, consuming them. */
  async takeBefore(end: number, fn: (entry: ManifestEntry) => Promise<void> | undefined): Promise<void> {
    // Awaits only to refill or when `fn` does: an await per entry cost more than the copy itself.
    while (await this.fill()) {
      const entries = this.buffer;
      while (this.at < entries.length) {
        const entry = entries[this.at]!;
        if (entry.index >= end) return;
        this.at++;
        const pending = fn(entry);
        if (pending) await pending;
      }
    }
  }

  /** Consumes the rest (so that the digest is checked). */
  async drain(): Promise<void> {
    await this.takeBefore(Number.POSITIVE_INFINITY, () => undefined);
  }
}
