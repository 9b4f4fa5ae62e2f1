import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ObjectStore, openObjectStore } from '@backup-service/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestRepository, testRepository } from '../support/repository.js';

// The ObjectStore contract every repository backend keeps (TEST_REPOSITORY=file|s3|swift): atomic
// writes (nothing visible before commit, whatever the size), unfinished writers listed as temporary
// objects and removable, create-if-absent, idempotent deletes, ranges.

const MiB = 1024 * 1024;
let dir: string;
let repository: TestRepository;
let store: ObjectStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'object-store-'));
  repository = testRepository(dir);
  store = repository.openStore();
  await store.prepare?.();
});
afterAll(async () => {
  await repository?.close();
  await rm(dir, { recursive: true, force: true });
});

async function write(key: string, parts: Buffer[], target = store) {
  const writer = await target.createWriter(key);
  for (const part of parts) await writer.write(part);
  return writer;
}

describe(`object store (${process.env.TEST_REPOSITORY ?? 'file'})`, () => {
  it('writes a small object atomically and reads it whole and in ranges', async () => {
    const data = randomBytes(300_000);
    const writer = await write('packs/ab/small', [data.subarray(0, 1000), data.subarray(1000)]);
    expect(await store.size('packs/ab/small')).toBeNull();
    expect(await store.get('packs/ab/small')).toBeNull();
    await writer.commit();
    expect(await store.size('packs/ab/small')).toBe(data.length);
    expect((await store.get('packs/ab/small'))!.equals(data)).toBe(true);
    expect((await store.readRange('packs/ab/small', 12345, 4096)).equals(data.subarray(12345, 16441))).toBe(
      true,
    );
    const target = Buffer.alloc(100);
    await store.readRangeInto('packs/ab/small', data.length - 100, target);
    expect(target.equals(data.subarray(data.length - 100))).toBe(true);
    await expect(store.readRange('packs/ab/small', data.length - 10, 20)).rejects.toThrow(/shorter/);
    await expect(store.readRange('packs/ab/missing', 0, 10)).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
    });
    expect(await store.size('packs/ab/missing')).toBeNull();
    expect(await store.get('packs/ab/missing')).toBeNull();
  });

  it('writes a large object in parts, visible only once committed, and lists it', async () => {
    // Small parts (S3's least is 5 MiB) so that the multipart / segmented path runs.
    const parts = repository.backend === 'file' ? undefined : repository.options.backends;
    const small = parts
      ? openObjectStore(repository.url, { ...parts, remote: { partBytes: 5 * MiB } })
      : store;
    try {
      const data = randomBytes(12 * MiB + 777);
      const writer = await write(
        'manifests/large',
        [data.subarray(0, 7 * MiB), data.subarray(7 * MiB)],
        small,
      );
      expect(await store.size('manifests/large')).toBeNull();
      await writer.commit();
      expect(await store.size('manifests/large')).toBe(data.length);
      const across = await store.readRange('manifests/large', 5 * MiB - 10, 20);
      expect(across.equals(data.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
      expect((await store.get('manifests/large'))!.equals(data)).toBe(true);
      const listed: Array<{ key: string; size: number }> = [];
      for await (const object of store.list('manifests/'))
        listed.push({ key: object.key, size: object.size });
      expect(listed).toEqual([{ key: 'manifests/large', size: data.length }]);
      // No upload of a committed object counts as temporary.
      const temporary: string[] = [];
      for await (const tmp of store.listTemporary()) temporary.push(tmp.key);
      expect(temporary.filter((key) => key.startsWith('manifests/large'))).toEqual([]);
      // Deleting it removes everything it was made of.
      await store.delete('manifests/large');
      await store.delete('manifests/large');
      expect(await store.size('manifests/large')).toBeNull();
      const left: string[] = [];
      for await (const object of store.list('')) left.push(object.key);
      expect(left.filter((key) => key.includes('large'))).toEqual([]);
    } finally {
      if (small !== store) await small.close?.();
    }
  });

  it('leaves an unfinished writer as a temporary object that can be removed, and nothing visible', async () => {
    const parts = repository.backend === 'file' ? undefined : repository.options.backends;
    const small = parts
      ? openObjectStore(repository.url, { ...parts, remote: { partBytes: 5 * MiB } })
      : store;
    try {
      // As a crash would: parts written, never committed nor aborted.
      await write('packs/cd/crashed', [randomBytes(6 * MiB)], small);
      const aborted = await write('packs/cd/aborted', [randomBytes(6 * MiB)], small);
      await aborted.abort();
      const temporary: Array<{ key: string; modifiedAt: Date }> = [];
      for await (const tmp of store.listTemporary()) temporary.push(tmp);
      const crashed = temporary.filter((tmp) => tmp.key.startsWith('packs/cd/crashed'));
      expect(crashed).toHaveLength(1);
      expect(Date.now() - crashed[0]!.modifiedAt.getTime()).toBeLessThan(10 * 60_000);
      expect(temporary.filter((tmp) => tmp.key.startsWith('packs/cd/aborted'))).toEqual([]);
      expect(await store.size('packs/cd/crashed')).toBeNull();
      for (const tmp of crashed) await store.deleteTemporary(tmp.key);
      const after: string[] = [];
      for await (const tmp of store.listTemporary()) after.push(tmp.key);
      expect(after.filter((key) => key.startsWith('packs/cd/'))).toEqual([]);
      const visible: string[] = [];
      for await (const object of store.list('packs/cd/')) visible.push(object.key);
      expect(visible).toEqual([]);
    } finally {
      if (small !== store) await small.close?.();
    }
  });

  it('creates an object only when absent, also when two writers race', async () => {
    expect(await store.putIfAbsent('keys/one', Buffer.from('first'))).toBe(true);
    expect(await store.putIfAbsent('keys/one', Buffer.from('second'))).toBe(false);
    expect((await store.get('keys/one'))!.toString()).toBe('first');
    const results = await Promise.all([
      store.putIfAbsent('keys/race', Buffer.from('a')),
      store.putIfAbsent('keys/race', Buffer.from('b')),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = (await store.get('keys/race'))!.toString();
    expect(winner).toBe(results[0] ? 'a' : 'b');
  });

  it('lists committed objects under a prefix with their sizes, and deletes idempotently', async () => {
    for (const name of ['x1', 'x2', 'x3'])
      await (await write(`packs/ef/${name}`, [Buffer.alloc(10 + name.length)])).commit();
    const listed: string[] = [];
    for await (const object of store.list('packs/ef/')) listed.push(`${object.key}:${object.size}`);
    expect(listed.sort()).toEqual(['packs/ef/x1:12', 'packs/ef/x2:12', 'packs/ef/x3:12']);
    await store.delete('packs/ef/x2');
    await store.delete('packs/ef/x2');
    await store.delete('packs/ef/never');
    const rest: string[] = [];
    for await (const object of store.list('packs/ef/')) rest.push(object.key);
    expect(rest.sort()).toEqual(['packs/ef/x1', 'packs/ef/x3']);
  });
});
