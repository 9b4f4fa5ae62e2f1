/**
 * Finds runs of at least `run` bytes of `plaintext` (at any offset) inside stored objects: the check
 * that encryption at rest leaves nothing of a volume's data readable. Every such run covers a whole
 * block of `run / 2` bytes aligned in the plaintext, so the blocks' first bytes are looked for at
 * every offset of every object, and each hit is measured on both sides.
 */
export function findPlaintextRuns(
  plaintext: Buffer,
  objects: Iterable<{ name: string; data: Buffer }>,
  run = 4096,
): Array<{ object: string; offset: number; length: number }> {
  const block = run / 2;
  const heads = new Map<number, number[]>();
  for (let at = 0; at + block <= plaintext.length; at += block) {
    if (plaintext.subarray(at, at + block).every((byte) => byte === 0)) continue; // holes are not data
    const head = plaintext.readUInt32LE(at);
    const list = heads.get(head) ?? [];
    if (list.length < 8) list.push(at);
    heads.set(head, list);
  }
  const found: Array<{ object: string; offset: number; length: number }> = [];
  for (const { name, data } of objects) {
    for (let i = 0; i + 4 <= data.length; i++) {
      const candidates = heads.get(data.readUInt32LE(i));
      if (!candidates) continue;
      for (const at of candidates) {
        let right = 0;
        while (
          i + right < data.length &&
          at + right < plaintext.length &&
          data[i + right] === plaintext[at + right]
        )
          right++;
        let left = 0;
        while (i - left > 0 && at - left > 0 && data[i - left - 1] === plaintext[at - left - 1]) left++;
        if (left + right >= run) {
          found.push({ object: name, offset: i - left, length: left + right });
          i += right; // past this run
          break;
        }
      }
    }
  }
  return found;
}
