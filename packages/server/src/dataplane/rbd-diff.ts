/**
 * The `rbd diff v1` stream format of `rbd export-diff` / `rbd import-diff` (ceph doc/dev/rbd-diff.rst):
 * the header `rbd diff v1\n`, metadata records (`f` from snap, `t` to snap, `s` image size), data
 * records (`w` offset, length and the bytes; `z` offset and length of a range that reads as zeros) and
 * `e` at the end. Integers are little-endian; names are a le32 length and the bytes.
 */

export const RBD_DIFF_HEADER = Buffer.from('rbd diff v1\n', 'latin1');

export type RbdDiffRecord =
  | { type: 'from'; snapshot: string }
  | { type: 'to'; snapshot: string }
  | { type: 'size'; size: number }
  /** A piece of a `w` record's data: the pieces of one record come one after the other, in order. */
  | { type: 'data'; offset: number; data: Buffer }
  | { type: 'zero'; offset: number; length: number }
  | { type: 'end' };

export class RbdDiffFormatError extends Error {
  override readonly name = 'RbdDiffFormatError';
}

/** Longest snapshot name accepted in `f`/`t` records (RBD's limit is far below). */
const MAX_NAME = 4096;

/**
 * Parses a diff stream as it arrives. The data of a `w` record is yielded in the pieces it arrived
 * in (views of the source's buffers), never gathered: memory stays bounded whatever the record's
 * length. Stops after `e`; a stream that ends before it is an error.
 */
export async function* parseRbdDiff(source: AsyncIterable<Buffer>): AsyncGenerator<RbdDiffRecord> {
  const input = new ByteQueue(source[Symbol.asyncIterator]());
  const header = await input.take(RBD_DIFF_HEADER.length);
  if (!header.equals(RBD_DIFF_HEADER)) {
    throw new RbdDiffFormatError(
      `not an rbd diff v1 stream (header ${JSON.stringify(header.toString('latin1'))})`,
    );
  }
  for (;;) {
    const tag = String.fromCharCode((await input.take(1))[0]!);
    switch (tag) {
      case 'f':
      case 't': {
        const length = (await input.take(4)).readUInt32LE(0);
        if (length > MAX_NAME) throw new RbdDiffFormatError(`snapshot name of ${length} bytes`);
        const snapshot = (await input.take(length)).toString('utf8');
        yield tag === 'f' ? { type: 'from', snapshot } : { type: 'to', snapshot };
        break;
      }
      case 's':
        yield { type: 'size', size: toNumber((await input.take(8)).readBigUInt64LE(0)) };
        break;
      case 'w': {
        const head = await input.take(16);
        let offset = toNumber(head.readBigUInt64LE(0));
        let left = toNumber(head.readBigUInt64LE(8));
        while (left > 0) {
          const data = await input.takeUpTo(left);
          yield { type: 'data', offset, data };
          offset += data.length;
          left -= data.length;
        }
        break;
      }
      case 'z': {
        const head = await input.take(16);
        yield {
          type: 'zero',
          offset: toNumber(head.readBigUInt64LE(0)),
          length: toNumber(head.readBigUInt64LE(8)),
        };
        break;
      }
      case 'e':
        yield { type: 'end' };
        return;
      default:
        throw new RbdDiffFormatError(`unknown record tag 0x${tag.charCodeAt(0).toString(16)}`);
    }
  }
}

/** The records of a diff stream, for writers (`rbd import-diff -`). */
export const rbdDiff = {
  /** Header and the image size (import-diff resizes the image to it: give the image's own size). */
  start(sizeBytes: number): Buffer {
    const size = Buffer.alloc(9);
    size.write('s', 0, 'latin1');
    size.writeBigUInt64LE(BigInt(sizeBytes), 1);
    return Buffer.concat([RBD_DIFF_HEADER, size]);
  },
  /** The head of a `w` record; `length` bytes of data must follow. */
  write(offset: number, length: number): Buffer {
    return record('w', offset, length);
  },
  zero(offset: number, length: number): Buffer {
    return record('z', offset, length);
  },
  end(): Buffer {
    return Buffer.from('e', 'latin1');
  },
};

function record(tag: 'w' | 'z', offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(17);
  buffer.write(tag, 0, 'latin1');
  buffer.writeBigUInt64LE(BigInt(offset), 1);
  buffer.writeBigUInt64LE(BigInt(length), 9);
  return buffer;
}

function toNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RbdDiffFormatError(`integer ${value} out of range`);
  return Number(value);
}

/** Bytes of an async iterator of buffers, taken in exact amounts. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private available = 0;
  private done = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async more(): Promise<void> {
    if (this.done) throw new RbdDiffFormatError('the diff stream ended early');
    const next = await this.source.next();
    if (next.done) {
      this.done = true;
      throw new RbdDiffFormatError('the diff stream ended early');
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** Exactly `n` bytes (small: headers and names). */
  async take(n: number): Promise<Buffer> {
    while (this.available < n) await this.more();
    const first = this.chunks[0]!;
    if (first.length >= n) return this.consumeFrom(first, n);
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const piece = this.consumeFrom(chunk, Math.min(chunk.length, n - at));
      piece.copy(out, at);
      at += piece.length;
    }
    return out;
  }

  /** Between 1 and `n` bytes: what is there already, or the next piece to arrive. */
  async takeUpTo(n: number): Promise<Buffer> {
    if (this.available === 0) await this.more();
    const first = this.chunks[0]!;
    return this.consumeFrom(first, Math.min(first.length, n));
  }

  private consumeFrom(chunk: Buffer, n: number): Buffer {
    const piece = chunk.subarray(0, n);
    if (n === chunk.length) this.chunks.shift();
    else this.chunks[0] = chunk.subarray(n);
    this.available -= n;
    return piece;
  }
}
