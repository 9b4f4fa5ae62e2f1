import { describe, expect, it } from 'vitest';
import { BLOB_RAW as RAW, BLOB_ZSTD as ZSTD } from '../../src/dataplane/pack.js';
import { prng, randomData, textBytes } from '../../src/dataplane/testing.js';
// @ts-expect-error: plain ESM JavaScript, run in the pool's worker threads (no types)
import { compress, looksIncompressible } from '../../src/dataplane/worker.mjs';
import { KiB } from './support.js';

describe('compression of new chunks (worker.mjs)', () => {
  const random = randomData(64 * KiB);
  const text = textBytes(64 * KiB, prng(3));
  // A compressible chunk whose first spots are random: the sample still sees the rest.
  const mixed = Buffer.concat([randomData(16 * KiB), textBytes(48 * KiB, prng(4))]);
  // Random, but the same 4 KiB over and over: high byte entropy, yet zstd shrinks it.
  const repeatedRandom = Buffer.concat(Array.from({ length: 16 }, () => random.subarray(0, 4 * KiB)));

  it('tells random data from text, code and mixed chunks by the byte entropy of a sample', () => {
    expect(looksIncompressible(random)).toBe(true);
    expect(looksIncompressible(text)).toBe(false);
    expect(looksIncompressible(mixed)).toBe(false);
    expect(looksIncompressible(Buffer.alloc(64 * KiB, 7))).toBe(false);
    expect(looksIncompressible(random.subarray(0, 3 * KiB))).toBe(false); // too short to sample: zstd decides
  });

  it('stores incompressible chunks raw without zstd, and compresses the rest', () => {
    const chunks = [random, text, mixed, repeatedRandom];
    const buffer = new SharedArrayBuffer(chunks.length * 64 * KiB);
    const data = new Uint8Array(buffer);
    for (const [i, chunk] of chunks.entries()) data.set(chunk, i * 64 * KiB);
    const result = compress({
      buffer,
      offsets: chunks.map((_, i) => i * 64 * KiB),
      lengths: chunks.map((c) => c.length),
      level: 1,
    });
    expect(result.flags).toEqual([RAW, ZSTD, ZSTD, RAW]);
    expect(result.stored[0]).toBe(64 * KiB);
    expect(result.stored[1]).toBeLessThan(40 * KiB);
    expect(result.stored[2]).toBeLessThan(48 * KiB);
    expect(result.stored[3]).toBe(64 * KiB); // the price of sampling: a repeated random block is not seen
    // The raw chunk stays where it was, first in the buffer.
    expect(Buffer.from(buffer, 0, 64 * KiB).equals(random)).toBe(true);
    expect(result.used).toBe(result.stored.reduce((a: number, b: number) => a + b, 0));
  });
});
