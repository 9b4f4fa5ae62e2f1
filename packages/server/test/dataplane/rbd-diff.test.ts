import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseRbdDiff, type RbdDiffRecord, rbdDiff } from '../../src/dataplane/rbd-diff.js';

/** The stream cut into pieces of random sizes, as a pipe delivers it. */
async function* pieces(stream: Buffer, max: number): AsyncGenerator<Buffer> {
  let at = 0;
  while (at < stream.length) {
    const n = 1 + Math.floor(Math.random() * max);
    yield stream.subarray(at, at + n);
    at += n;
  }
}

async function parse(stream: Buffer, max = 7): Promise<RbdDiffRecord[]> {
  const out: RbdDiffRecord[] = [];
  for await (const record of parseRbdDiff(pieces(stream, max))) out.push(record);
  return out;
}

/** `w` data pieces glued back together per record. */
function merged(records: RbdDiffRecord[]) {
  const out: Array<{ type: string; offset?: number; data?: Buffer; length?: number; size?: number }> = [];
  for (const r of records) {
    const last = out[out.length - 1];
    if (r.type === 'data' && last?.type === 'data' && last.offset! + last.data!.length === r.offset) {
      last.data = Buffer.concat([last.data!, r.data]);
    } else if (r.type === 'data') out.push({ type: 'data', offset: r.offset, data: Buffer.from(r.data) });
    else out.push({ ...r });
  }
  return out;
}

describe('rbd diff v1 streams', () => {
  it('parses what the writer produces, whatever the pieces it arrives in', async () => {
    const a = randomBytes(10_000);
    const b = randomBytes(3);
    const stream = Buffer.concat([
      rbdDiff.start(1 << 30),
      rbdDiff.write(4096, a.length),
      a,
      rbdDiff.zero(1 << 20, 65536),
      rbdDiff.write((1 << 30) - 3, b.length),
      b,
      rbdDiff.end(),
    ]);
    for (const max of [1, 7, 4096, 1 << 20]) {
      expect(merged(await parse(stream, max))).toEqual([
        { type: 'size', size: 1 << 30 },
        { type: 'data', offset: 4096, data: a },
        { type: 'zero', offset: 1 << 20, length: 65536 },
        { type: 'data', offset: (1 << 30) - 3, data: b },
        { type: 'end' },
      ]);
    }
  });

  it('reads the from/to snapshot names of export-diff --from-snap', async () => {
    const name = (tag: string, value: string) => {
      const head = Buffer.alloc(5);
      head.write(tag, 0, 'latin1');
      head.writeUInt32LE(Buffer.byteLength(value), 1);
      return Buffer.concat([head, Buffer.from(value)]);
    };
    const stream = Buffer.concat([
      Buffer.from('rbd diff v1\n'),
      name('f', 'backup.1b2c.snap.1700000000.5'),
      name('t', 'snapshot-9f'),
      rbdDiff.start(8).subarray(12),
      rbdDiff.end(),
    ]);
    expect(await parse(stream)).toEqual([
      { type: 'from', snapshot: 'backup.1b2c.snap.1700000000.5' },
      { type: 'to', snapshot: 'snapshot-9f' },
      { type: 'size', size: 8 },
      { type: 'end' },
    ]);
  });

  it('refuses another format, an unknown record and a stream cut short', async () => {
    await expect(parse(Buffer.from('rbd image v2\n'))).rejects.toThrow(/not an rbd diff v1 stream/);
    await expect(parse(Buffer.concat([rbdDiff.start(8), Buffer.from('x')]))).rejects.toThrow(
      /unknown record/,
    );
    const cut = Buffer.concat([rbdDiff.start(1 << 20), rbdDiff.write(0, 1000), randomBytes(999)]);
    await expect(parse(cut)).rejects.toThrow(/ended early/);
    await expect(parse(rbdDiff.start(8))).rejects.toThrow(/ended early/);
  });
});
