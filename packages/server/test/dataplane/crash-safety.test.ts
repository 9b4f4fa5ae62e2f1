import { copyFile, readdir, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../src/dataplane/object-store.js';
import { PackBuilder, packIdOfKey, packKey, readPackIndex } from '../../src/dataplane/pack.js';
import { randomData, sha256OfFile } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, MiB } from './support.js';

const SIZE = 96 * MiB;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

describe('crash safety', () => {
  let h: Harness;
  let store: FileObjectStore;

  beforeAll(async () => {
    h = await createHarness();
    store = new FileObjectStore(h.repositoryUrl, h.repositoryDir);
    await h.lab.createVolume('v', SIZE);
    for (let offset = 0; offset < 80 * MiB; offset += 8 * MiB)
      await h.lab.write('v', offset, randomData(8 * MiB));
    await h.lab.snapshot('v', 's1');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('leaves no visible manifest or partial pack when a backup is aborted, and a rerun completes', async () => {
    const controller = new AbortController();
    const attempt = h.backup({
      volumeId: 'v',
      snapshotId: 's1',
      backupId: 'b1',
      signal: controller.signal,
      onProgress: (done, total) => {
        if (done > total * 0.4) controller.abort(new Error('operator cancelled'));
      },
    });
    await expect(attempt).rejects.toThrow('operator cancelled');
    expect(await h.plane.hasManifest(h.repository, 'b1')).toBe(false);

    // Whatever is visible is complete: every pack object has a valid index and is indexed in the database.
    const files = await listFiles(h.repositoryDir);
    expect(files.filter((f) => f.startsWith('manifests/'))).toEqual([]);
    const packs = files.filter((f) => f.startsWith('packs/') && !f.includes('.tmp-'));
    expect(packs.length).toBeGreaterThan(0); // packs sealed before the abort stay (and are reused)
    const indexedPacks = new Set(
      (await h.db.prisma.pack.findMany({ where: { repositoryId: h.repository.id } })).map((p) => p.id),
    );
    for (const key of packs) {
      const packId = packIdOfKey(key)!;
      expect(await readPackIndex(store, packId)).not.toHaveLength(0);
      expect(indexedPacks.has(packId)).toBe(true);
    }

    const rerun = await h.backup({ volumeId: 'v', snapshotId: 's1', backupId: 'b1' });
    expect(rerun.chunkCount).toBe(1280);
    expect(rerun.newChunks).toBeLessThan(1280); // the chunks of the packs sealed before the abort were reused
    expect(await h.plane.hasManifest(h.repository, 'b1')).toBe(true);
    expect(await h.restore('b1', 'restored', SIZE)).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));
  });

  it('never indexes a truncated pack temp file, and removes it', async () => {
    const { id: packId } = (await h.db.prisma.pack.findFirst({ where: { repositoryId: h.repository.id } }))!;
    const real = path.join(h.repositoryDir, packKey(packId));
    const tmp = `${real.slice(0, -4)}beef.tmp-deadbe`;
    await copyFile(real, tmp);
    await truncate(tmp, Math.floor((await stat(real)).size / 2));

    const before = await h.plane.stats(h.repository);
    await h.lab.write('v', 90 * MiB, randomData(1 * MiB));
    await h.lab.snapshot('v', 's2');
    await h.backup({
      volumeId: 'v',
      snapshotId: 's2',
      backupId: 'b2',
      parent: { backupId: 'b1', snapshotId: 's1' },
    });
    await h.plane.collectGarbage({ repository: h.repository }); // recent temp files stay
    const packRows = await h.db.prisma.pack.findMany({ where: { repositoryId: h.repository.id } });
    expect(packRows.some((p) => tmp.includes(p.id))).toBe(false);
    expect((await h.plane.stats(h.repository)).chunkCount).toBe(before.chunkCount + 16);

    const gc = await h.plane.collectGarbage({ repository: h.repository, tempFilesOlderThanMs: 0 });
    expect(gc.freedBytes).toBeGreaterThan(0);
    expect((await listFiles(h.repositoryDir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(await h.restore('b2', 'restored-2', SIZE)).toBe(await sha256OfFile(h.lab.snapshotPath('s2')));
  });

  it('deletes a complete pack the index never learnt of, unless it holds the only copy of referenced chunks', async () => {
    // A leftover of a crash between a pack's rename and its index insert: nobody references it.
    const leftover = await PackBuilder.create(store);
    const data = randomData(64 * 1024);
    const { createHash } = await import('node:crypto');
    await leftover.append(data, [
      {
        id: createHash('sha256').update(data).digest('hex'),
        storedLength: data.length,
        rawLength: data.length,
        flags: 0,
      },
    ]);
    await leftover.seal();
    expect(await store.size(packKey(leftover.packId))).not.toBeNull();
    const gc = await h.plane.collectGarbage({ repository: h.repository });
    expect(gc.deletedPacks).toBe(1);
    expect(await store.size(packKey(leftover.packId))).toBeNull();

    // The same leftover holding chunks a manifest references but the index lost: adopted, not deleted.
    const victim = (await h.db.prisma.chunk.findFirst({ where: { repositoryId: h.repository.id } }))!;
    const before = (await h.db.prisma.chunk.count({ where: { repositoryId: h.repository.id } })) - 1;
    const copy = await PackBuilder.create(store);
    const blob = await store.readRange(packKey(victim.packId), Number(victim.offset), victim.storedLength);
    await copy.append(blob, [
      {
        id: victim.id,
        storedLength: victim.storedLength,
        rawLength: victim.rawLength,
        flags: victim.storedLength < victim.rawLength ? 1 : 0,
      },
    ]);
    await copy.seal();
    await h.db.prisma.chunk.delete({
      where: { repositoryId_id: { repositoryId: h.repository.id, id: victim.id } },
    });
    expect(await h.db.prisma.chunk.count({ where: { repositoryId: h.repository.id } })).toBe(before);
    await h.plane.collectGarbage({ repository: h.repository });
    const adopted = await h.db.prisma.chunk.findUniqueOrThrow({
      where: { repositoryId_id: { repositoryId: h.repository.id, id: victim.id } },
    });
    expect(adopted.packId).not.toBe(victim.packId);
    expect(await h.restore('b2', 'restored-3', SIZE)).toBe(await sha256OfFile(h.lab.snapshotPath('s2')));
    expect(await h.plane.verify({ repository: h.repository, backupId: 'b1' })).toMatchObject({ ok: true });
  });
});
