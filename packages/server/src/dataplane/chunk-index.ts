import type { Db } from '../db/client.js';
import { Prisma } from '../generated/prisma/client.js';
import type { PackEntry } from './pack.js';

export interface ChunkLocation {
  id: string;
  packId: string;
  offset: number;
  storedLength: number;
  rawLength: number;
}

/** Rows per statement for batched lookups and inserts (bounded parameter sizes). */
const BATCH = 2000;

/**
 * The chunk index of a repository in PostgreSQL (`Pack`, `Chunk`): where each stored chunk lives.
 * A chunk row exists only once its pack is durable; the packs' own indexes can rebuild it.
 */
export class ChunkIndex {
  constructor(
    private readonly prisma: Db,
    readonly repositoryId: string,
  ) {}

  /** The subset of `ids` that the index knows. */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += BATCH) {
      const part = ids.slice(i, i + BATCH);
      // Through the primary key whatever the planner thinks of the table's size (migration chunk_lookup).
      const rows = await this.prisma.$queryRaw<Array<{ id: string }>>`
        SELECT id FROM "chunksById"(${this.repositoryId}, ${part}::text[])`;
      for (const row of rows) found.add(row.id);
    }
    return found;
  }

  async locate(ids: readonly string[]): Promise<Map<string, ChunkLocation>> {
    const found = new Map<string, ChunkLocation>();
    for (let i = 0; i < ids.length; i += BATCH) {
      const part = ids.slice(i, i + BATCH);
      const rows = await this.prisma.$queryRaw<
        Array<{ id: string; packId: string; offset: bigint; storedLength: number; rawLength: number }>
      >`
        SELECT id, "packId", "offset", "storedLength", "rawLength" FROM "chunksById"(${this.repositoryId}, ${part}::text[])`;
      for (const row of rows) found.set(row.id, { ...row, offset: Number(row.offset) });
    }
    return found;
  }

  /**
   * Records a durable pack and its chunks (chunks known already keep their old location). Returns
   * the chunk rows added. One statement (atomic by itself): a backup records a pack every few
   * megabytes, and an interactive transaction's four round trips cost the service ~3 ms CPU each time.
   */
  async addPack(packId: string, sizeBytes: number, entries: readonly PackEntry[]): Promise<number> {
    return this.prisma.$executeRaw(
      insertPackAndChunks(this.repositoryId, packId, sizeBytes, entries.length, entries),
    );
  }

  /**
   * Records a pack written by garbage collection: its chunks move there from their old packs, and old
   * packs that no chunk points to any more lose their rows. Returns those old packs.
   */
  async movePack(
    packId: string,
    sizeBytes: number,
    entries: readonly PackEntry[],
    oldPackIds: readonly string[],
  ): Promise<string[]> {
    return this.prisma.$transaction(
      async (tx) => {
        await tx.$executeRaw`
          INSERT INTO "Pack" ("repositoryId", id, "sizeBytes", "chunkCount")
          VALUES (${this.repositoryId}, ${packId}, ${sizeBytes}, ${entries.length})
          ON CONFLICT DO NOTHING`;
        for (let i = 0; i < entries.length; i += BATCH) {
          const part = entries.slice(i, i + BATCH);
          await tx.$executeRaw(insertChunks(this.repositoryId, packId, part, 'move'));
        }
        const freed = await tx.$queryRaw<Array<{ id: string }>>`
          DELETE FROM "Pack" p
          WHERE p."repositoryId" = ${this.repositoryId} AND p.id = ANY(${[...oldPackIds]}::text[])
            AND NOT EXISTS (SELECT 1 FROM "Chunk" c WHERE c."repositoryId" = p."repositoryId" AND c."packId" = p.id)
          RETURNING p.id`;
        return freed.map((row) => row.id);
      },
      { timeout: 60_000 },
    );
  }

  /** Adopts chunks found in a pack object the index did not know (crash leftovers still referenced). */
  async adoptPack(packId: string, sizeBytes: number, chunkCount: number, entries: readonly PackEntry[]) {
    await this.prisma.$executeRaw(
      insertPackAndChunks(this.repositoryId, packId, sizeBytes, chunkCount, entries),
    );
  }

  /** One page of chunk ids in [from, to) after `after`, in id order. */
  async idsPage(
    from: string,
    to: string,
    after: string | null,
    limit: number,
  ): Promise<Array<{ id: string; packId: string }>> {
    return this.prisma.$queryRaw<Array<{ id: string; packId: string }>>`
      SELECT id, "packId" FROM "Chunk"
      WHERE "repositoryId" = ${this.repositoryId} AND id >= ${from} AND id < ${to} AND id > ${after ?? ''}
      ORDER BY id LIMIT ${limit}`;
  }

  async deleteChunks(ids: readonly string[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < ids.length; i += BATCH) {
      deleted += await this.prisma.$executeRaw`
        DELETE FROM "Chunk" WHERE "repositoryId" = ${this.repositoryId} AND id = ANY(${ids.slice(i, i + BATCH)}::text[])`;
    }
    return deleted;
  }

  /** Every pack row with the number of chunks that still point to it. */
  async packsWithLiveCounts(): Promise<
    Array<{ id: string; sizeBytes: number; chunkCount: number; live: number }>
  > {
    const rows = await this.prisma.$queryRaw<
      Array<{ id: string; sizeBytes: bigint; chunkCount: number; live: bigint }>
    >`
      SELECT p.id, p."sizeBytes", p."chunkCount", COALESCE(c.live, 0) AS live
      FROM "Pack" p
      LEFT JOIN (SELECT "packId", count(*) AS live FROM "Chunk" WHERE "repositoryId" = ${this.repositoryId} GROUP BY "packId") c
        ON c."packId" = p.id
      WHERE p."repositoryId" = ${this.repositoryId}
      ORDER BY p.id`;
    return rows.map((r) => ({
      id: r.id,
      sizeBytes: Number(r.sizeBytes),
      chunkCount: r.chunkCount,
      live: Number(r.live),
    }));
  }

  async chunksOfPack(packId: string): Promise<ChunkLocation[]> {
    const rows = await this.prisma.$queryRaw<
      Array<{ id: string; packId: string; offset: bigint; storedLength: number; rawLength: number }>
    >`
      SELECT id, "packId", "offset", "storedLength", "rawLength" FROM "Chunk"
      WHERE "repositoryId" = ${this.repositoryId} AND "packId" = ${packId} ORDER BY "offset"`;
    return rows.map((row) => ({ ...row, offset: Number(row.offset) }));
  }

  /** Deletes a pack row (and any chunk rows still pointing to it). */
  async deletePack(packId: string): Promise<void> {
    await this.prisma.$transaction([
      this.prisma
        .$executeRaw`DELETE FROM "Chunk" WHERE "repositoryId" = ${this.repositoryId} AND "packId" = ${packId}`,
      this.prisma
        .$executeRaw`DELETE FROM "Pack" WHERE "repositoryId" = ${this.repositoryId} AND id = ${packId}`,
    ]);
  }

  async packIds(): Promise<Set<string>> {
    const rows = await this.prisma.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM "Pack" WHERE "repositoryId" = ${this.repositoryId}`;
    return new Set(rows.map((r) => r.id));
  }

  async chunkCount(): Promise<number> {
    const rows = await this.prisma.$queryRaw<Array<{ n: bigint }>>`
      SELECT count(*) AS n FROM "Chunk" WHERE "repositoryId" = ${this.repositoryId}`;
    return Number(rows[0]?.n ?? 0);
  }

  async stats(): Promise<{ chunkCount: number; storedBytes: number; packCount: number }> {
    const [chunks, packs] = await Promise.all([
      this.prisma.$queryRaw<Array<{ n: bigint }>>`
        SELECT count(*) AS n FROM "Chunk" WHERE "repositoryId" = ${this.repositoryId}`,
      this.prisma.$queryRaw<Array<{ n: bigint; bytes: bigint | null }>>`
        SELECT count(*) AS n, sum("sizeBytes")::bigint AS bytes FROM "Pack" WHERE "repositoryId" = ${this.repositoryId}`,
    ]);
    return {
      chunkCount: Number(chunks[0]?.n ?? 0),
      packCount: Number(packs[0]?.n ?? 0),
      storedBytes: Number(packs[0]?.bytes ?? 0),
    };
  }
}

/** The pack's row (unless known) and its chunks' rows (those not known keep their old location). */
function insertPackAndChunks(
  repositoryId: string,
  packId: string,
  sizeBytes: number,
  chunkCount: number,
  entries: readonly PackEntry[],
) {
  return Prisma.sql`
    WITH pack AS (
      INSERT INTO "Pack" ("repositoryId", id, "sizeBytes", "chunkCount")
      VALUES (${repositoryId}, ${packId}, ${sizeBytes}, ${chunkCount})
      ON CONFLICT DO NOTHING)
    ${insertChunks(repositoryId, packId, entries, 'keep')}`;
}

/** INSERT of chunk rows; 'keep' leaves known chunks where they are, 'move' points them to this pack. */
function insertChunks(
  repositoryId: string,
  packId: string,
  entries: readonly PackEntry[],
  mode: 'keep' | 'move',
) {
  const onConflict =
    mode === 'keep'
      ? Prisma.sql`DO NOTHING`
      : Prisma.sql`DO UPDATE SET "packId" = EXCLUDED."packId", "offset" = EXCLUDED."offset",
          "storedLength" = EXCLUDED."storedLength", "rawLength" = EXCLUDED."rawLength"`;
  return Prisma.sql`
    INSERT INTO "Chunk" ("repositoryId", id, "packId", "offset", "storedLength", "rawLength")
    SELECT ${repositoryId}, u.id, ${packId}, u.off, u.stored, u.raw
    FROM unnest(${entries.map((e) => e.id)}::text[], ${entries.map((e) => e.offset)}::bigint[],
                ${entries.map((e) => e.storedLength)}::int[], ${entries.map((e) => e.rawLength)}::int[])
         AS u(id, off, stored, raw)
    ON CONFLICT ("repositoryId", id) ${onConflict}`;
}
