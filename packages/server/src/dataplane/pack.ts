import { createHash, randomBytes } from 'node:crypto';
import { settled } from './concurrency.js';
import { BLOB_OVERHEAD, DecryptionError, type RepositoryCrypto } from './crypto.js';
import { DIRECT_IO_ALIGNMENT, isDirectIoReady } from './direct-io.js';
import type { ObjectStore, ObjectWriter } from './object-store.js';

/**
 * Pack object format (all integers little-endian):
 *
 *   header   16 B   magic "OSBKPACK", version u16, flags u16 (bit 0: encrypted), reserved u32
 *   blobs           the stored bytes of each chunk, back to back (encrypted: nonce | AES-256-GCM of
 *                   the (compressed) chunk | tag, see crypto.ts); a run of blobs written in place
 *                   (PackBuilder.append) starts at a multiple of 4096, after up to 4095 zero bytes.
 *                   Readers go by the index's offsets.
 *   index           ENTRY_SIZE bytes per blob: chunk id (32 B, SHA-256, or HMAC-SHA-256 when
 *                   encrypted), offset u64, stored length u32, raw length u32, blob flags u8 (low
 *                   nibble: compression 0 = none, 1 = zstd; bit 7: AES-256-GCM), 3 reserved bytes.
 *                   Encrypted: nonce | AES-256-GCM of those entries | tag (the pack id as AAD)
 *   footer   52 B   entry count u32, index length u32 (as stored), SHA-256 of the index as stored
 *                   (32 B), version u16, flags u16 (bit 0: encrypted), magic "OSBKPIDX"
 *
 * The index makes a pack self-describing: the chunk index can be rebuilt from packs alone (with the
 * repository key when encrypted).
 */
export const PACK_MAGIC = Buffer.from('OSBKPACK', 'latin1');
export const PACK_INDEX_MAGIC = Buffer.from('OSBKPIDX', 'latin1');
export const PACK_VERSION = 1;
export const PACK_HEADER_SIZE = 16;
export const PACK_ENTRY_SIZE = 52;
export const PACK_FOOTER_SIZE = 52;

export const BLOB_RAW = 0;
export const BLOB_ZSTD = 1;
export const BLOB_AES = 0x80;
/** Pack header and footer flag: blobs and index are encrypted. */
export const PACK_ENCRYPTED = 1;

export interface PackEntry {
  /** SHA-256 of the plaintext (HMAC-SHA-256 with the repository key when encrypted), hex. */
  id: string;
  offset: number;
  storedLength: number;
  rawLength: number;
  flags: number;
}

/** The least run of blobs worth padding a pack for, to write it in place (see PackBuilder.append). */
export const IN_PLACE_MIN_BYTES = 1024 * 1024;
const ZEROS = new Uint8Array(DIRECT_IO_ALIGNMENT);

const alignUp = (n: number, to: number) => Math.ceil(n / to) * to;

/**
 * The blobs from blobs[i] on (at `pos` in data) whose stored lengths are whole blocks: `end` (at
 * least i + 1), and their bytes in `data` when they can be written in place (page-aligned memory,
 * at least IN_PLACE_MIN_BYTES). Whole blocks: each of them lies as (un)aligned as the first.
 */
function inPlaceRun(
  data: Uint8Array,
  blobs: ReadonlyArray<{ storedLength: number }>,
  i: number,
  pos: number,
): { end: number; view: Uint8Array | null } {
  let end = i;
  let bytes = 0;
  while (end < blobs.length && blobs[end]!.storedLength % DIRECT_IO_ALIGNMENT === 0) {
    bytes += blobs[end]!.storedLength;
    end++;
  }
  const view = data.subarray(pos, pos + bytes);
  return {
    end: Math.max(end, i + 1),
    view: bytes >= IN_PLACE_MIN_BYTES && isDirectIoReady(view) ? view : null,
  };
}

export function newPackId(): string {
  return randomBytes(16).toString('hex');
}

export function packKey(packId: string): string {
  return `packs/${packId.slice(0, 2)}/${packId}`;
}

/** The pack id of a committed pack object's key, or null for other keys. */
export function packIdOfKey(key: string): string | null {
  const match = /^packs\/([0-9a-f]{2})\/([0-9a-f]{32})$/.exec(key);
  return match?.[2]?.startsWith(match[1] ?? '') ? match[2] : null;
}

/** Writes one pack: blobs are appended as they come; seal() adds the index and makes it visible. */
export class PackBuilder {
  readonly entries: PackEntry[] = [];
  private constructor(
    readonly packId: string,
    private readonly writer: ObjectWriter,
    private readonly crypto: RepositoryCrypto | null,
  ) {}

  /** With `crypto`, the blobs appended must be encrypted already (the workers do it). */
  static async create(store: ObjectStore, crypto: RepositoryCrypto | null = null): Promise<PackBuilder> {
    const packId = newPackId();
    const writer = await store.createWriter(packKey(packId));
    const header = Buffer.alloc(PACK_HEADER_SIZE);
    PACK_MAGIC.copy(header, 0);
    header.writeUInt16LE(PACK_VERSION, 8);
    header.writeUInt16LE(crypto ? PACK_ENCRYPTED : 0, 10);
    await writer.write(header);
    return new PackBuilder(packId, writer, crypto);
  }

  /** Bytes written so far (header and blobs). */
  get size(): number {
    return this.writer.bytesWritten;
  }

  /**
   * Appends blobs stored back to back in `data` (in the order of `blobs`). Runs of them that lie
   * page-aligned in memory (chunks stored raw where the data plane read them) go to the pack
   * straight from there, where its writer can (writeInPlace): the pack is padded to the next 4096
   * bytes first, which costs at most 0.4% on a run of IN_PLACE_MIN_BYTES. Resolves when the next
   * append may come, with `written`, which settles once `data` may be reused.
   */
  async append(
    data: Uint8Array,
    blobs: ReadonlyArray<Omit<PackEntry, 'offset'>>,
  ): Promise<{ entries: PackEntry[]; written: Promise<void> }> {
    const total = blobs.reduce((n, blob) => n + blob.storedLength, 0);
    if (total !== data.length)
      throw new Error(`pack append: ${data.length} bytes given for blobs of ${total}`);
    const added: PackEntry[] = [];
    const written: Array<Promise<void>> = [];
    let offset = this.writer.bytesWritten; // in the pack, of the next blob
    let pos = 0; // in data, of the next blob
    let copied = 0; // data[copied, pos) is still to be written by copy
    for (let i = 0; i < blobs.length; ) {
      const run = this.writer.writeInPlace ? inPlaceRun(data, blobs, i, pos) : { end: i + 1, view: null };
      if (run.view) {
        if (pos > copied) await this.writer.write(data.subarray(copied, pos));
        const padding = alignUp(offset, DIRECT_IO_ALIGNMENT) - offset;
        if (padding > 0) await this.writer.write(ZEROS.subarray(0, padding));
        offset += padding;
        const inPlace = await this.writer.writeInPlace!(run.view);
        if (inPlace) written.push(inPlace.written);
        else await this.writer.write(run.view);
        copied = pos + run.view.length;
      }
      for (; i < run.end; i++) {
        added.push({ ...blobs[i]!, offset });
        offset += blobs[i]!.storedLength;
        pos += blobs[i]!.storedLength;
      }
    }
    if (data.length > copied) await this.writer.write(data.subarray(copied));
    this.entries.push(...added);
    return { entries: added, written: settled(Promise.all(written)) };
  }

  /** Writes the index and footer, makes the pack durable and visible. Returns its final size. */
  async seal(): Promise<number> {
    await this.writer.write(encodePackTrailer(this.entries, this.crypto, this.packId));
    await this.writer.commit();
    return this.writer.bytesWritten;
  }

  abort(): Promise<void> {
    return this.writer.abort();
  }
}

export function encodePackTrailer(
  entries: readonly PackEntry[],
  crypto: RepositoryCrypto | null = null,
  packId = '',
): Buffer {
  const plain = Buffer.alloc(entries.length * PACK_ENTRY_SIZE);
  entries.forEach((e, i) => {
    const at = i * PACK_ENTRY_SIZE;
    plain.write(e.id, at, 32, 'hex');
    plain.writeBigUInt64LE(BigInt(e.offset), at + 32);
    plain.writeUInt32LE(e.storedLength, at + 40);
    plain.writeUInt32LE(e.rawLength, at + 44);
    plain.writeUInt8(e.flags, at + 48);
  });
  const index = crypto ? crypto.encryptPackIndex(packId, plain) : plain;
  const footer = Buffer.alloc(PACK_FOOTER_SIZE);
  footer.writeUInt32LE(entries.length, 0);
  footer.writeUInt32LE(index.length, 4);
  createHash('sha256').update(index).digest().copy(footer, 8);
  footer.writeUInt16LE(PACK_VERSION, 40);
  footer.writeUInt16LE(crypto ? PACK_ENCRYPTED : 0, 42);
  PACK_INDEX_MAGIC.copy(footer, 44);
  return Buffer.concat([index, footer]);
}

/**
 * Reads a pack's own index (from its end). Throws when the pack is truncated or its index damaged,
 * and when it is encrypted and `crypto` is not the key of its repository (or the other way round).
 */
export async function readPackIndex(
  store: ObjectStore,
  packId: string,
  size?: number,
  crypto: RepositoryCrypto | null = null,
): Promise<PackEntry[]> {
  const key = packKey(packId);
  const packSize = size ?? (await store.size(key));
  if (packSize === null) throw new Error(`pack ${packId} not found`);
  if (packSize < PACK_HEADER_SIZE + PACK_FOOTER_SIZE) throw new Error(`pack ${packId} is truncated`);
  const footer = await store.readRange(key, packSize - PACK_FOOTER_SIZE, PACK_FOOTER_SIZE);
  if (!footer.subarray(44, 52).equals(PACK_INDEX_MAGIC))
    throw new Error(`pack ${packId}: no index (truncated?)`);
  const version = footer.readUInt16LE(40);
  if (version !== PACK_VERSION) throw new Error(`pack ${packId}: unsupported version ${version}`);
  const encrypted = (footer.readUInt16LE(42) & PACK_ENCRYPTED) !== 0;
  if (encrypted !== (crypto !== null)) {
    throw new DecryptionError(
      encrypted
        ? `pack ${packId} is encrypted, but its repository is not: refused`
        : `pack ${packId} is not encrypted, but its repository is: refused`,
    );
  }
  const count = footer.readUInt32LE(0);
  const indexLength = footer.readUInt32LE(4);
  if (
    indexLength !== count * PACK_ENTRY_SIZE + (encrypted ? BLOB_OVERHEAD : 0) ||
    indexLength > packSize - PACK_HEADER_SIZE - PACK_FOOTER_SIZE
  ) {
    throw new Error(`pack ${packId}: index length ${indexLength} does not fit`);
  }
  const stored = await store.readRange(key, packSize - PACK_FOOTER_SIZE - indexLength, indexLength);
  if (!createHash('sha256').update(stored).digest().equals(footer.subarray(8, 40))) {
    throw new Error(`pack ${packId}: index checksum mismatch`);
  }
  const index = crypto ? crypto.decryptPackIndex(packId, stored) : stored;
  const blobsEnd = packSize - PACK_FOOTER_SIZE - indexLength;
  const entries: PackEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * PACK_ENTRY_SIZE;
    const entry: PackEntry = {
      id: index.toString('hex', at, at + 32),
      offset: Number(index.readBigUInt64LE(at + 32)),
      storedLength: index.readUInt32LE(at + 40),
      rawLength: index.readUInt32LE(at + 44),
      flags: index.readUInt8(at + 48),
    };
    if (entry.offset < PACK_HEADER_SIZE || entry.offset + entry.storedLength > blobsEnd) {
      throw new Error(`pack ${packId}: blob ${entry.id} lies outside the blob area`);
    }
    entries.push(entry);
  }
  return entries;
}

/**
 * A blob's flags as the chunk index implies them (it has no flags column): a blob of an encrypted
 * repository is encrypted; beyond the encryption's overhead, stored < raw means zstd.
 */
export function blobFlagsOf(storedLength: number, rawLength: number, encrypted = false): number {
  if (encrypted) return (storedLength - BLOB_OVERHEAD < rawLength ? BLOB_ZSTD : BLOB_RAW) | BLOB_AES;
  return storedLength < rawLength ? BLOB_ZSTD : BLOB_RAW;
}
