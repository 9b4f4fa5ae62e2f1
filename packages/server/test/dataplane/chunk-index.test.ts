import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database.js';
import { ChunkIndex } from '../../src/dataplane/chunk-index.js';

// The chunk index answers "which of these ids are stored, and where" for one repository only, for
// any mix of known, unknown and repeated ids, at table sizes where a plain `id = ANY(...)` scan and
// the key lookups of chunksById take different paths.

let db: TestDatabase;
const id = () => randomBytes(32).toString('hex');
beforeAll(async () => {
  db = await createTestDatabase();
  for (const repo of ['repo-a', 'repo-b']) {
    await db.prisma.repository.create({ data: { id: repo, url: `file:///nowhere/${repo}` } });
  }
});
afterAll(() => db?.drop());

async function addPack(index: ChunkIndex, count: number) {
  const entries = Array.from({ length: count }, (_, i) => ({
    id: id(),
    offset: 16 + i * 100,
    storedLength: 90 + (i % 7),
    rawLength: 65536,
    flags: 1,
  }));
  const packId = randomBytes(16).toString('hex');
  await index.addPack(packId, 16 + count * 100, entries);
  return { packId, entries };
}

describe('the chunk index', () => {
  it('finds exactly the known ids of its own repository, with their locations', async () => {
    const a = new ChunkIndex(db.prisma, 'repo-a');
    const b = new ChunkIndex(db.prisma, 'repo-b');
    const packs = [];
    for (let i = 0; i < 6; i++) packs.push(await addPack(a, 2000)); // 12,000 rows: the planner's awkward size
    const other = await addPack(b, 10);

    const known = packs.flatMap((p) => p.entries.slice(0, 20).map((e) => ({ ...e, packId: p.packId })));
    const unknown = Array.from({ length: 30 }, id);
    const asked = [...known.map((e) => e.id), ...unknown, known[0]!.id, ...other.entries.map((e) => e.id)];

    expect(await a.existing(asked)).toEqual(new Set(known.map((e) => e.id)));
    const located = await a.locate(asked);
    expect(located.size).toBe(known.length);
    for (const e of known) {
      expect(located.get(e.id)).toEqual({
        id: e.id,
        packId: e.packId,
        offset: e.offset,
        storedLength: e.storedLength,
        rawLength: e.rawLength,
      });
    }
    expect(await b.existing(asked)).toEqual(new Set(other.entries.map((e) => e.id)));
    expect(await a.existing([])).toEqual(new Set());
  });

  it('records a pack and only the chunks it does not know, in one statement: known chunks stay where they were', async () => {
    const index = new ChunkIndex(db.prisma, 'repo-b');
    const first = await addPack(index, 5);
    const packId = randomBytes(16).toString('hex');
    const fresh = Array.from({ length: 3 }, (_, i) => ({
      id: id(),
      offset: 16 + i * 10,
      storedLength: 10,
      rawLength: 65536,
      flags: 1,
    }));
    const again = first.entries.slice(0, 2).map((e, i) => ({ ...e, offset: 500 + i * 10 }));

    expect(await index.addPack(packId, 600, [...fresh, ...again])).toBe(3);
    expect(await index.addPack(packId, 600, [...fresh, ...again])).toBe(0); // retried: nothing new

    const located = await index.locate([...fresh, ...again].map((e) => e.id));
    for (const e of fresh)
      expect(located.get(e.id)).toMatchObject({ packId, offset: 16 + fresh.indexOf(e) * 10 });
    for (const e of again) expect(located.get(e.id)?.packId).toBe(first.packId);
    const packs = await index.packsWithLiveCounts();
    expect(packs.find((p) => p.id === packId)).toMatchObject({ sizeBytes: 600, chunkCount: 5, live: 3 });
  });
});
