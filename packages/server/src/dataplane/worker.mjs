// Worker-thread side of the data plane's pool (piscina). Plain ESM JavaScript on purpose: workers are
// not run through the TypeScript loader. Keep it to the CPU-bound kernels: hash, zero-check,
// compress, decompress + verify. Bulk data lives in SharedArrayBuffers owned by the main thread (no
// copies, no transfers); results are small.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const zstd = require('zstd-napi/binding');

const BLOB_RAW = 0;
const BLOB_ZSTD = 1;

let zeros = new Uint8Array(0);
let cctx = null;
let dctx = null;
let scratch = new Uint8Array(0);

function isZero(view) {
  if (zeros.length < view.length) zeros = new Uint8Array(view.length);
  return Buffer.compare(view, zeros.subarray(0, view.length)) === 0;
}

/**
 * SHA-256 and zero-check of each chunk in the first `length` bytes of `buffer` (chunks of
 * `chunkSize`, the last one maybe short). Returns the digests (32 bytes each, zeros for all-zero
 * chunks) and a flag per chunk (1 = all zeros).
 */
export function hash({ buffer, length, chunkSize }) {
  const data = Buffer.from(buffer, 0, length);
  const count = Math.ceil(length / chunkSize);
  const digests = new Uint8Array(count * 32);
  const zero = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const view = data.subarray(i * chunkSize, Math.min(length, (i + 1) * chunkSize));
    if (isZero(view)) {
      zero[i] = 1;
      continue;
    }
    digests.set(createHash('sha256').update(view).digest(), i * 32);
  }
  return { digests, zero };
}

/**
 * zstd of the chunks at `offsets`/`lengths` of `buffer` (increasing offsets), stored back to back
 * from the start of `buffer` itself: a chunk's output never reaches past the chunk's own input, so
 * the chunks still to come are intact. A chunk that does not shrink is stored raw. Returns the bytes
 * used at the start of `buffer` and per chunk the stored length and flags.
 */
export function compress({ buffer, offsets, lengths, level }) {
  const data = new Uint8Array(buffer);
  const stored = new Array(lengths.length);
  const flags = new Array(lengths.length);
  cctx ??= new zstd.CCtx();
  let pos = 0;
  for (let i = 0; i < lengths.length; i++) {
    const src = data.subarray(offsets[i], offsets[i] + lengths[i]);
    const bound = zstd.compressBound(src.length);
    if (scratch.length < bound) scratch = new Uint8Array(bound);
    const n = cctx.compress(scratch, src, level);
    if (n < src.length) {
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
 * of the compressed ones together) and checks each one's SHA-256 against its id. A raw (uncompressed)
 * blob is checked where it lies, not copied. Returns, per blob, where its data is (`at`: offset in
 * `out`, or -1 for in place in `buffer`) and null or the reason it is damaged.
 */
export function decompress({ buffer, out, blobs }) {
  const data = new Uint8Array(buffer);
  const raw = Buffer.from(out);
  const errors = new Array(blobs.length).fill(null);
  const at = new Array(blobs.length).fill(-1);
  dctx ??= new zstd.DCtx();
  let pos = 0;
  for (let i = 0; i < blobs.length; i++) {
    const { offset, storedLength, rawLength, flags, id } = blobs[i];
    const src = data.subarray(offset, offset + storedLength);
    let plain;
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
        if (storedLength !== rawLength) {
          errors[i] = `stored ${storedLength} bytes for a raw chunk of ${rawLength}`;
          continue;
        }
        plain = src;
      } else {
        errors[i] = `unknown blob flags ${flags}`;
        continue;
      }
    } catch (error) {
      errors[i] = `cannot decompress: ${error instanceof Error ? error.message : String(error)}`;
      continue;
    }
    const digest = createHash('sha256').update(plain).digest('hex');
    if (digest !== id) errors[i] = `digest mismatch (stored data hashes to ${digest})`;
  }
  return { errors, at };
}
