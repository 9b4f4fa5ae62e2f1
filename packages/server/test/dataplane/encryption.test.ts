import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlaintextRuns } from '../../../../test/support/plaintext.js';
import { operatorKeyId } from '../../src/dataplane/crypto.js';
import { createDataPlane, RepositoryKeyError } from '../../src/dataplane/index.js';
import { FileObjectStore } from '../../src/dataplane/object-store.js';
import {
  addRepositoryKey,
  listRepositoryKeys,
  removeRepositoryKey,
} from '../../src/dataplane/repository-keys.js';
import { prng, randomData, sha256OfFile, textBytes } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, MiB } from './support.js';

// Encryption at rest (AES-256-GCM) with a key from configuration: nothing of the data is readable in
// the repository, restores are byte-identical with the key, and a wrong or missing key is a clear
// error. Also: what needs the key (pack indexes, GC, recovery's index rebuild, key rotation) works.

const SIZE = 16 * MiB;
const KEY = randomBytes(32);

async function objectsOf(dir: string): Promise<Array<{ name: string; data: Buffer }>> {
  const out: Array<{ name: string; data: Buffer }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.push({ name: path.relative(dir, file), data: await readFile(file) });
  }
  return out;
}

describe('encryption at rest', () => {
  let h: Harness;
  let plaintext: Buffer;

  beforeAll(async () => {
    h = await createHarness({ repository: { options: { key: KEY } } });
    await h.lab.createVolume('v', SIZE);
    // A recognizable pattern: incompressible bytes (stored raw when unencrypted) and text.
    await h.lab.write('v', 0, randomData(3 * MiB));
    await h.lab.write('v', 8 * MiB, textBytes(2 * MiB, prng(7)));
    await h.lab.snapshot('v', 's1');
    plaintext = await readFile(h.lab.snapshotPath('s1'));
    await h.backup({ volumeId: 'v', snapshotId: 's1', backupId: 'b1' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('leaves no 4 KiB run of the plaintext in any object, and restores byte for byte', async () => {
    const objects = await objectsOf(h.repositoryDir);
    expect(objects.filter((o) => o.name.startsWith('packs/')).length).toBeGreaterThan(0);
    expect(objects.filter((o) => o.name.startsWith('manifests/'))).toHaveLength(1);
    expect(findPlaintextRuns(plaintext, objects)).toEqual([]);
    // Neither the manifest's header nor the packs' indexes are readable.
    for (const object of objects.filter((o) => !o.name.startsWith('keys/') && o.name !== 'config.json')) {
      expect(object.data.includes('volumeId')).toBe(false);
    }
    expect(await h.restore('b1', 'r1', SIZE)).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));

    // Chunk ids are keyed hashes: the SHA-256 of a chunk (what anyone can compute) is not among them.
    const firstChunk = createHash('sha256')
      .update(plaintext.subarray(0, 64 * 1024))
      .digest('hex');
    expect(await h.db.prisma.chunk.count({ where: { id: firstChunk } })).toBe(0);
    expect(await h.db.prisma.chunk.count({ where: { repositoryId: h.repository.id } })).toBe(80);

    // The same backup without encryption does show the data: the search finds what is there.
    const plain = await createHarness({ threads: 1 });
    try {
      await plain.lab.createVolume('v', SIZE);
      await plain.lab.write('v', 0, plaintext.subarray(0, 3 * MiB));
      await plain.lab.snapshot('v', 's1');
      await plain.backup({ volumeId: 'v', snapshotId: 's1', backupId: 'b1' });
      expect(findPlaintextRuns(plaintext, await objectsOf(plain.repositoryDir)).length).toBeGreaterThan(0);
    } finally {
      await plain.close();
    }
  });

  it('refuses a wrong or a missing key with a clear error, never garbage', async () => {
    const wrong = createDataPlane({
      prisma: h.db.prisma,
      threads: 1,
      repositories: { key: randomBytes(32) },
    });
    const none = createDataPlane({ prisma: h.db.prisma, threads: 1 });
    try {
      const attempt = wrong.openRepository(h.repositoryUrl);
      await expect(attempt).rejects.toBeInstanceOf(RepositoryKeyError);
      await expect(attempt).rejects.toThrow(
        new RegExp(
          `is encrypted, and the configured key \\(id [0-9a-f]{16}\\) is not one of its keys \\(ids ${operatorKeyId(KEY)}\\)`,
        ),
      );
      await expect(none.openRepository(h.repositoryUrl)).rejects.toThrow(
        /is encrypted: set REPOSITORY_KEY or REPOSITORY_KEY_FILE/,
      );
      // Opened by its row as a job would: the same error.
      const row = { id: h.repository.id, url: h.repository.url, chunkSize: h.repository.chunkSize };
      await expect(wrong.verify({ repository: row, backupId: 'b1' })).rejects.toBeInstanceOf(
        RepositoryKeyError,
      );
    } finally {
      await wrong.close();
      await none.close();
    }
  });

  it('keeps incrementals, verify, garbage collection and damage detection working', async () => {
    await h.lab.write('v', 1 * MiB, randomData(512 * 1024));
    await h.lab.snapshot('v', 's2');
    const incremental = await h.backup({
      volumeId: 'v',
      snapshotId: 's2',
      backupId: 'b2',
      parent: { backupId: 'b1', snapshotId: 's1' },
    });
    expect(incremental).toMatchObject({ incremental: true, newChunks: 8 });
    expect(await h.plane.verify({ repository: h.repository, backupId: 'b2' })).toMatchObject({ ok: true });
    // Delete the full backup: GC drops the chunks only it used and rewrites the packs (re-reading
    // their encrypted indexes), the incremental still restores.
    await h.plane.deleteBackup({ repository: h.repository, backupId: 'b1' });
    const gc = await h.plane.collectGarbage({ repository: h.repository });
    expect(gc.deletedChunks).toBe(8);
    expect(gc.rewrittenPacks + gc.deletedPacks).toBeGreaterThan(0);
    expect(await h.restore('b2', 'r2', SIZE)).toBe(await sha256OfFile(h.lab.snapshotPath('s2')));

    // A flipped byte in a blob fails its GCM tag: verify names the chunk.
    const row = (await h.db.prisma.chunk.findFirst({
      where: { repositoryId: h.repository.id },
      orderBy: { id: 'asc' },
    }))!;
    const file = path.join(h.repositoryDir, 'packs', row.packId.slice(0, 2), row.packId);
    const pack = await readFile(file);
    const at = Number(row.offset) + 20;
    pack.writeUInt8(pack.readUInt8(at) ^ 0x01, at);
    await writeFile(file, pack);
    const verify = await h.plane.verify({ repository: h.repository, backupId: 'b2' });
    expect(verify.ok).toBe(false);
    expect(verify.damaged).toEqual([
      { chunkId: row.id, reason: expect.stringMatching(/does not decrypt with the repository key/) },
    ]);
    pack.writeUInt8(pack.readUInt8(at) ^ 0x01, at);
    await writeFile(file, pack);
    expect(await h.plane.verify({ repository: h.repository, backupId: 'b2' })).toMatchObject({ ok: true });
  });

  it("rebuilds the chunk index from the packs' encrypted indexes and lists backups from manifests alone", async () => {
    const before = await h.db.prisma.chunk.count({ where: { repositoryId: h.repository.id } });
    await h.db.prisma.chunk.deleteMany({ where: { repositoryId: h.repository.id } });
    await h.db.prisma.pack.deleteMany({ where: { repositoryId: h.repository.id } });
    const rebuilt = await h.plane.rebuildIndex({ repository: h.repository });
    expect(rebuilt).toMatchObject({ indexedChunks: before, damagedPacks: [] });
    expect(rebuilt.indexedPacks).toBeGreaterThan(0);
    expect(await h.restore('b2', 'r3', SIZE)).toBe(await sha256OfFile(h.lab.snapshotPath('s2')));
    const listed = [];
    for await (const item of h.plane.listManifests(h.repository)) listed.push(item);
    expect(listed).toEqual([
      {
        backupId: 'b2',
        error: null,
        manifest: expect.objectContaining({
          backupId: 'b2',
          volumeId: 'v',
          parentBackupId: 'b1',
          sizeBytes: SIZE,
        }),
      },
    ]);
  });

  it('rotates the key: another key is added, the old one removed, no data rewritten', async () => {
    const store = new FileObjectStore(h.repositoryUrl, h.repositoryDir);
    const next = randomBytes(32);
    const packsBefore = (await objectsOf(path.join(h.repositoryDir, 'packs'))).map((o) => o.name).sort();
    expect(await addRepositoryKey(store, h.repositoryUrl, KEY, next)).toBe(operatorKeyId(next));
    expect(await listRepositoryKeys(store)).toEqual([operatorKeyId(KEY), operatorKeyId(next)].sort());
    await expect(removeRepositoryKey(store, h.repositoryUrl, next, operatorKeyId(next))).rejects.toThrow(
      /is the configured key/,
    );
    await removeRepositoryKey(store, h.repositoryUrl, next, operatorKeyId(KEY));
    expect(await listRepositoryKeys(store)).toEqual([operatorKeyId(next)]);
    expect((await objectsOf(path.join(h.repositoryDir, 'packs'))).map((o) => o.name).sort()).toEqual(
      packsBefore,
    );

    const rotated = createDataPlane({ prisma: h.db.prisma, threads: 1, repositories: { key: next } });
    const old = createDataPlane({ prisma: h.db.prisma, threads: 1, repositories: { key: KEY } });
    try {
      const repository = await rotated.openRepository(h.repositoryUrl);
      expect(repository.id).toBe(h.repository.id);
      expect(await rotated.verify({ repository, backupId: 'b2' })).toMatchObject({ ok: true });
      await expect(old.openRepository(h.repositoryUrl)).rejects.toThrow(/not one of its keys/);
    } finally {
      await rotated.close();
      await old.close();
    }
  });

  it('refuses an unencrypted manifest put into an encrypted repository', async () => {
    const plain = await createHarness({ threads: 1 });
    try {
      await plain.lab.createVolume('x', 4 * MiB);
      await plain.lab.write('x', 0, randomData(MiB));
      await plain.lab.snapshot('x', 's');
      await plain.backup({ volumeId: 'x', snapshotId: 's', backupId: 'planted' });
      const planted = path.join(h.repositoryDir, 'manifests', 'planted');
      await writeFile(planted, await readFile(path.join(plain.repositoryDir, 'manifests', 'planted')));
      const verify = await h.plane.verify({ repository: h.repository, backupId: 'planted' });
      expect(verify).toMatchObject({
        ok: false,
        damaged: [
          { chunkId: 'manifest', reason: expect.stringMatching(/is not encrypted, but its repository is/) },
        ],
      });
      await rm(planted);
    } finally {
      await plain.close();
    }
  });
});
