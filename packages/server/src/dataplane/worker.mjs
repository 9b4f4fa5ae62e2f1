// Worker-thread side of the data plane's pool (piscina). Plain ESM JavaScript on purpose: workers are
// not run through the TypeScript loader. Keep it to the CPU-bound kernels: hash, zero-check,
// compress, decompress + verify. Bulk data lives in SharedArrayBuffers owned by the main thread (no
// copies, no transfers); results are small.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const zstd = require('zstd-napi/binding');

const BLOB_RAW = 0;
const BLOB_ZSTD = 1;
const BLOB_AES = 0x80;
// AES-256-GCM of a blob (crypto.ts): nonce (12 B) | ciphertext | tag (16 B), key = HMAC-SHA-256(data key, chunk id).
const NONCE = 12;
const TAG = 16;

let zeros = new Uint8Array(0);
let cctx = null;
let dctx = null;
let scratch = new Uint8Array(0);

function isZero(view) {
  if (zeros.length < view.length) zeros = new Uint8Array(view.length);
  return Buffer.compare(view, zeros.subarray(0, view.length)) === 0;
}

/**
 * Whether a chunk looks like compressed or encrypted data, by the byte entropy of 8 spots of 256
 * bytes across it (as btrfs's compression heuristic samples): at ≥ 7.5 bits per byte zstd cannot
 * shrink it anyway, and skipping zstd saves ~3/4 of its cost on such data (a 64 KiB chunk: ~6 µs
 * against ~21 µs). Random data samples at 7.88–7.93 bits, this machine's binaries and text at a
 * median of 5.3 (the data plane's README has the figures).
 */
const SAMPLE_SPOTS = 8;
const SAMPLE_SPOT_BYTES = 256;
const SAMPLE_BYTES = SAMPLE_SPOTS * SAMPLE_SPOT_BYTES;
const INCOMPRESSIBLE_BITS_PER_BYTE = 7.5;
const byteCounts = new Uint32Array(256);
// n·log2(n) for the counts a sample can reach.
const nLog2n = Float64Array.from({ length: SAMPLE_BYTES + 1 }, (_, n) => (n > 0 ? n * Math.log2(n) : 0));

export function looksIncompressible(view) {
  if (view.length < 2 * SAMPLE_BYTES) return false;
  byteCounts.fill(0);
  const step = Math.floor((view.length - SAMPLE_SPOT_BYTES) / (SAMPLE_SPOTS - 1));
  for (let spot = 0; spot < SAMPLE_SPOTS; spot++) {
    const end = spot * step + SAMPLE_SPOT_BYTES;
    for (let i = spot * step; i < end; i++) byteCounts[view[i]]++;
  }
  let sum = 0;
  for (let b = 0; b < 256; b++) sum += nLog2n[byteCounts[b]];
  const bitsPerByte = Math.log2(SAMPLE_BYTES) - sum / SAMPLE_BYTES;
  return bitsPerByte >= INCOMPRESSIBLE_BITS_PER_BYTE;
}

function chunkKey(dataKey, id) {
  return createHmac('sha256', dataKey).update(Buffer.from(id, 'hex')).digest();
}

/**
 * SHA-256 (HMAC-SHA-256 with `idKey` in an encrypted repository) and zero-check of each chunk in the
 * `length` bytes of `buffer` from `base` (chunks of `chunkSize`, the last one maybe short). Returns
 * the digests (32 bytes each, zeros for all-zero chunks) and a flag per chunk (1 = all zeros).
 */
export function hash({ buffer, length, chunkSize, base = 0, idKey = null }) {
  const data = Buffer.from(buffer, base, length);
  const count = Math.ceil(length / chunkSize);
  const digests = new Uint8Array(count * 32);
  const zero = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const view = data.subarray(i * chunkSize, Math.min(length, (i + 1) * chunkSize));
    if (isZero(view)) {
      zero[i] = 1;
      continue;
    }
    digests.set((idKey ? createHmac('sha256', idKey) : createHash('sha256')).update(view).digest(), i * 32);
  }
  return { digests, zero };
}

/**
 * zstd of the chunks at `offsets`/`lengths` of `buffer` (increasing offsets), stored back to back
 * from the start of `buffer` itself: a chunk's output never reaches past the chunk's own input, so
 * the chunks still to come are intact. A chunk that does not shrink, or that looks incompressible,
 * is stored raw. With `dataKey` (encrypted repository; `ids` the chunks' ids) each stored chunk is
 * then sealed with AES-256-GCM, 28 bytes more per chunk: the caller leaves that much room before
 * the first chunk. Returns the bytes used at the start of `buffer` and per chunk the stored length
 * and flags.
 */
export function compress({ buffer, offsets, lengths, level, ids = null, dataKey = null }) {
  const data = new Uint8Array(buffer);
  const stored = new Array(lengths.length);
  const flags = new Array(lengths.length);
  cctx ??= new zstd.CCtx();
  let pos = 0;
  for (let i = 0; i < lengths.length; i++) {
    const src = data.subarray(offsets[i], offsets[i] + lengths[i]);
    let n = src.length; // stored raw unless zstd shrinks it
    if (!looksIncompressible(src)) {
      const bound = zstd.compressBound(src.length);
      if (scratch.length < bound) scratch = new Uint8Array(bound);
      n = cctx.compress(scratch, src, level);
    }
    if (dataKey) {
      const inner = n < src.length ? scratch.subarray(0, n) : src;
      const nonce = randomFillSync(Buffer.alloc(NONCE));
      const cipher = createCipheriv('aes-256-gcm', chunkKey(dataKey, ids[i]), nonce);
      const sealed = cipher.update(inner);
      cipher.final();
      const tag = cipher.getAuthTag();
      const limit = i + 1 < offsets.length ? offsets[i + 1] : data.length;
      if (pos + NONCE + sealed.length + TAG > limit) {
        throw new Error('compress: no room for the encryption overhead');
      }
      data.set(nonce, pos);
      data.set(sealed, pos + NONCE);
      data.set(tag, pos + NONCE + sealed.length);
      stored[i] = NONCE + sealed.length + TAG;
      flags[i] = (n < src.length ? BLOB_ZSTD : BLOB_RAW) | BLOB_AES;
    } else if (n < src.length) {
      data.set(scratch.subarray(0, n), pos);
      stored[i] = n;
      flags[i] = BLOB_ZSTD;
    } else {
      if (pos !== offsets[i]) data.copyWithin(pos, offsets[i], offsets[i] + lengths[i]);
      stored[i] = src.length;
      flags[i] = BLOB_RAW;
    }
    pos += stored[i];
  }
  return { used: pos, stored, flags };
}

/**
 * Decompresses the blobs of `buffer` into `out` (back to back, at least as large as the raw lengths
 * of the compressed and the encrypted ones together) and checks each one's SHA-256 (HMAC-SHA-256
 * with `idKey`) against its id. Encrypted blobs (flag bit 7) are opened with their key from
 * `dataKey` first (a wrong key or damage fails the GCM tag). A raw, unencrypted blob is checked where
 * it lies, not copied, unless `copyRaw`. Returns, per blob, where its data is (`at`: offset in `out`, or -1 for in
 * place in `buffer`) and null or the reason it is damaged.
 */
export function decompress({ buffer, out, blobs, idKey = null, dataKey = null, copyRaw = false }) {
  const data = new Uint8Array(buffer);
  const raw = Buffer.from(out);
  const errors = new Array(blobs.length).fill(null);
  const at = new Array(blobs.length).fill(-1);
  dctx ??= new zstd.DCtx();
  let pos = 0;
  for (let i = 0; i < blobs.length; i++) {
    const { offset, storedLength, rawLength, flags, id } = blobs[i];
    let src = data.subarray(offset, offset + storedLength);
    let plain;
    if (flags & BLOB_AES) {
      if (!dataKey) {
        errors[i] = 'encrypted blob in an unencrypted repository';
        continue;
      }
      if (storedLength < NONCE + TAG) {
        errors[i] = `stored ${storedLength} bytes: too short for an encrypted chunk`;
        continue;
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', chunkKey(dataKey, id), src.subarray(0, NONCE));
        decipher.setAuthTag(src.subarray(storedLength - TAG));
        const opened = decipher.update(src.subarray(NONCE, storedLength - TAG));
        decipher.final();
        src = opened;
      } catch {
        errors[i] = 'does not decrypt with the repository key (damaged or tampered with)';
        continue;
      }
    } else if (dataKey) {
      errors[i] = 'unencrypted blob in an encrypted repository';
      continue;
    }
    try {
      if ((flags & 0x0f) === BLOB_ZSTD) {
        plain = raw.subarray(pos, pos + rawLength);
        const n = dctx.decompress(plain, src);
        if (n !== rawLength) {
          errors[i] = `decompressed to ${n} bytes instead of ${rawLength}`;
          continue;
        }
        at[i] = pos;
        pos += rawLength;
      } else if ((flags & 0x0f) === BLOB_RAW) {
        if (src.length !== rawLength) {
          errors[i] = `stored ${src.length} bytes for a raw chunk of ${rawLength}`;
          continue;
        }
        if (flags & BLOB_AES || copyRaw) {
          // Decrypted into a fresh buffer, or asked for in `out` (aligned for the restore's target):
          // handed back in `out` like a decompressed one.
          plain = raw.subarray(pos, pos + rawLength);
          plain.set(src);
          at[i] = pos;
          pos += rawLength;
        } else {
          plain = src;
        }
      } else {
        errors[i] = `unknown blob flags ${flags}`;
        continue;
      }
    } catch (error) {
      errors[i] = `cannot decompress: ${error instanceof Error ? error.message : String(error)}`;
      continue;
    }
    const digest = (idKey ? createHmac('sha256', idKey) : createHash('sha256')).update(plain).digest('hex');
    if (digest !== id) errors[i] = `digest mismatch (stored data hashes to ${digest})`;
  }
  return { errors, at };
}
