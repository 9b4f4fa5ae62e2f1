import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataPlane } from '../../src/dataplane/index.js';
import { randomData } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, MiB } from './support.js';

describe('repositories', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ threads: 1 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates the repository on first use, keeps its id in config.json and upserts the row', async () => {
    const config = JSON.parse(await readFile(path.join(h.repositoryDir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ id: h.repository.id, version: 1, chunkSize: 64 * 1024 });
    expect(h.repository.chunkSize).toBe(64 * 1024);
    const row = await h.db.prisma.repository.findUniqueOrThrow({ where: { id: h.repository.id } });
    expect(row.url).toBe(h.repository.url);
    // Cached per URL (also with a trailing slash).
    expect(await h.plane.openRepository(`${h.repositoryUrl}/`)).toBe(h.repository);
  });

  it('is found again by another data plane (e.g. after a restart) and by a plain {id, url, chunkSize}', async () => {
    await h.lab.createVolume('v', 4 * MiB);
    await h.lab.write('v', 0, randomData(1 * MiB));
    await h.lab.snapshot('v', 's');
    await h.backup({ volumeId: 'v', snapshotId: 's', backupId: 'b' });
    const other = createDataPlane({ prisma: h.db.prisma, threads: 1 });
    try {
      const again = await other.openRepository(h.repositoryUrl);
      expect(again.id).toBe(h.repository.id);
      const plain = { id: h.repository.id, url: h.repository.url, chunkSize: h.repository.chunkSize };
      expect(await other.hasManifest(plain, 'b')).toBe(true);
      expect(await other.stats(plain)).toEqual({
        chunkCount: 16,
        packCount: 1,
        storedBytes: expect.any(Number),
      });
      expect((await other.verify({ repository: plain, backupId: 'b' })).ok).toBe(true);
      await expect(other.hasManifest({ ...plain, id: 'someone-else' }, 'b')).rejects.toThrow(/has id/);
    } finally {
      await other.close();
    }
  });

  it('refuses a repository replaced under a known URL, and unsupported schemes', async () => {
    const other = createDataPlane({ prisma: h.db.prisma, threads: 1 });
    try {
      await rm(h.repositoryDir, { recursive: true, force: true });
      await expect(other.openRepository(h.repositoryUrl)).rejects.toThrow(/database knows id/);
      await expect(other.openRepository('ftp://host/prefix')).rejects.toThrow(/unsupported scheme/);
      // s3:// and swift:// are supported; Swift needs a Keystone session to be given.
      await expect(other.openRepository('swift://container/prefix')).rejects.toThrow(
        /no Swift access configured/,
      );
    } finally {
      await other.close();
    }
  });
});
