import { execFileSync } from 'node:child_process';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataIntegrityError } from '../../src/dataplane/index.js';
import { prng, randomData, sha256OfFile, textBytes } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, MiB } from './support.js';

const SIZE = 64 * MiB;

async function packFiles(repositoryDir: string): Promise<string[]> {
  const packsDir = path.join(repositoryDir, 'packs');
  const files: string[] = [];
  for (const dir of await readdir(packsDir)) {
    for (const name of await readdir(path.join(packsDir, dir))) files.push(path.join(packsDir, dir, name));
  }
  return files;
}

/** Bytes of `files` in the page cache (fincore, util-linux). */
function cachedBytes(files: string[]): number {
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '-o', 'RES', ...files], {
    encoding: 'utf8',
  });
  return out
    .trim()
    .split('\n')
    .reduce((sum, line) => sum + Number(line), 0);
}

/** Drops `files` from the page cache: dd's `nocache` is posix_fadvise(DONTNEED), clean pages only. */
function evict(files: string[]): void {
  execFileSync('sync');
  for (const file of files) execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

describe('reading a backup ahead of its restore (while Cinder creates the volume)', () => {
  let h: Harness;
  let packs: string[];
  let packBytes = 0;

  beforeAll(async () => {
    h = await createHarness();
    await h.lab.createVolume('vol', SIZE);
    await h.lab.writeMany('vol', [
      { offset: 0, data: randomData(40 * MiB) },
      { offset: 48 * MiB, data: textBytes(8 * MiB, prng(3)) },
    ]);
    await h.lab.snapshot('vol', 's1');
    await h.backup({ volumeId: 'vol', snapshotId: 's1', backupId: 'b1' });
    packs = await packFiles(h.repositoryDir);
    for (const file of packs) packBytes += (await stat(file)).size;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('brings every blob of the backup into the page cache, and the restore reads them from there', async () => {
    expect(packs.length).toBeGreaterThanOrEqual(3); // 16 MiB packs
    evict(packs);
    expect(cachedBytes(packs)).toBe(0);

    const warmed = await h.plane.warmRestore({ repository: h.repository, backupId: 'b1' });
    expect(warmed.packs).toBe(packs.length);
    // The packs hold this backup's blobs only: all of them once, not the packs' own indexes.
    expect(warmed.bytes).toBeGreaterThan(packBytes * 0.99);
    expect(warmed.bytes).toBeLessThan(packBytes);
    expect(cachedBytes(packs)).toBeGreaterThanOrEqual(warmed.bytes);

    // The warmed packs are read through the page cache (not O_DIRECT): the same bytes come back.
    const sha = await h.restore('b1', 'restored', SIZE);
    expect(sha).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));
  });

  it('stops at maxBytes and at its signal, and says how far it got', async () => {
    const one = await h.plane.warmRestore({ repository: h.repository, backupId: 'b1', maxBytes: 1 });
    expect(one.packs).toBe(1);
    expect(one.bytes).toBeGreaterThan(0);
    expect(one.bytes).toBeLessThanOrEqual(4 * MiB); // one piece

    const stop = new AbortController();
    stop.abort();
    const none = await h.plane.warmRestore({ repository: h.repository, backupId: 'b1', signal: stop.signal });
    expect(none).toEqual({ packs: 0, bytes: 0 });
  });

  it('does not fail for an unknown backup or a missing pack: the restore itself reports the damage', async () => {
    expect(await h.plane.warmRestore({ repository: h.repository, backupId: 'no-such-backup' })).toEqual({
      packs: 0,
      bytes: 0,
    });

    const [lost] = packs;
    await rm(lost!);
    const warmed = await h.plane.warmRestore({ repository: h.repository, backupId: 'b1' });
    expect(warmed.packs).toBeLessThan(packs.length);
    await expect(h.restore('b1', 'restored-damaged', SIZE)).rejects.toThrow(DataIntegrityError);
    await expect(h.restore('b1', 'restored-damaged', SIZE)).rejects.toThrow(
      `pack ${path.basename(lost!)} is missing`,
    );
  });
});
