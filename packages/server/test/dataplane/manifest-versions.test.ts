import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepositoryCrypto } from '../../src/dataplane/crypto.js';
import { ManifestReader, ManifestWriter } from '../../src/dataplane/manifest.js';
import { FileObjectStore } from '../../src/dataplane/object-store.js';
import type { BackupRecord } from '../../src/dataplane/types.js';

// Manifest format version 2 carries the backup's record (recovery without the database), encrypted
// with the rest in an encrypted repository; version 1 manifests (written before) are still read.

const record: BackupRecord = {
  projectId: 'p1',
  userId: 'u1',
  name: 'nightly',
  description: 'before the upgrade',
  container: null,
  availabilityZone: 'nova',
  metadata: { tier: 'gold' },
  sizeGb: 1,
  source: 'volume',
  snapshotId: null,
  dataSnapshotId: 's-1',
  dataTimestamp: '2026-01-02T03:04:05.000Z',
  createdAt: '2026-01-02T03:04:00.000Z',
  instanceBackupId: null,
};

/** A manifest exactly as format version 1 wrote it (no record). */
function versionOne(backupId: string, entries: Array<{ index: number; id: string }>): Buffer {
  const json = Buffer.from(
    JSON.stringify({
      backupId,
      volumeId: 'v',
      sizeBytes: 1024 * 1024,
      chunkSize: 65536,
      createdAt: '2025-12-31T00:00:00.000Z',
      parentBackupId: null,
    }),
  );
  const fixed = Buffer.alloc(16);
  fixed.write('OSBKMANI', 0, 'latin1');
  fixed.writeUInt16LE(1, 8);
  fixed.writeUInt32LE(json.length, 12);
  let last = -1;
  const body = entries.map((e) => {
    const gap = e.index - last - 1;
    last = e.index;
    return Buffer.concat([Buffer.from([gap]), Buffer.from(e.id, 'hex')]);
  });
  const head = Buffer.concat([fixed, json, ...body]);
  const footer = Buffer.alloc(56);
  footer.writeBigUInt64LE(BigInt(entries.length), 0);
  footer.writeBigUInt64LE(BigInt(entries.length * 65536), 8);
  createHash('sha256').update(head).digest().copy(footer, 16);
  footer.write('OSBKMEND', 48, 'latin1');
  return Buffer.concat([head, footer]);
}

describe('manifest versions', () => {
  let dir: string;
  let store: FileObjectStore;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'manifest-versions-'));
    store = new FileObjectStore(pathToFileURL(dir).href, dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a manifest of format version 1', async () => {
    const entries = [
      { index: 0, id: 'a'.repeat(64) },
      { index: 3, id: 'b'.repeat(64) },
    ];
    await store.putIfAbsent('manifests/old', versionOne('old', entries));
    const reader = await ManifestReader.open(store, 'old');
    expect(reader.header).toMatchObject({ backupId: 'old', volumeId: 'v', parentBackupId: null });
    expect(reader.header.record).toBeUndefined();
    const got = [];
    for await (const batch of reader.batches()) got.push(...batch);
    expect(got).toEqual(entries);
  });

  it('writes version 2 with the record, plain or encrypted (then unreadable without the key)', async () => {
    const crypto = new RepositoryCrypto(randomBytes(32), '0123456789abcdef');
    for (const [backupId, keys] of [
      ['plain', null],
      ['sealed', crypto],
    ] as const) {
      const writer = await ManifestWriter.create(
        store,
        {
          backupId,
          volumeId: 'v',
          sizeBytes: 3 * 1024 * 1024 * 1024,
          chunkSize: 65536,
          createdAt: new Date().toISOString(),
          parentBackupId: null,
          record,
        },
        keys,
      );
      // More than one envelope segment (1 MiB): 40 000 entries of 33 bytes.
      for (let i = 0; i < 40_000; i++)
        await writer.add(i, createHash('sha256').update(String(i)).digest('hex'));
      await writer.commit();
      const reader = await ManifestReader.open(store, backupId, keys);
      expect(reader.header.record).toEqual(record);
      let count = 0;
      let lastId = '';
      for await (const batch of reader.batches(7000)) {
        count += batch.length;
        lastId = batch.at(-1)!.id;
      }
      expect(count).toBe(40_000);
      expect(lastId).toBe(createHash('sha256').update('39999').digest('hex'));
    }
    const sealed = (await store.get('manifests/sealed'))!;
    expect(sealed.subarray(0, 8).toString('latin1')).toBe('OSBKCRYP');
    expect(sealed.includes('nightly')).toBe(false);
    await expect(ManifestReader.open(store, 'sealed')).rejects.toThrow(
      /is encrypted, but its repository is not/,
    );
    const other = new RepositoryCrypto(randomBytes(32), 'fedcba9876543210');
    await expect(ManifestReader.open(store, 'sealed', other)).rejects.toThrow(
      /does not decrypt with the repository key/,
    );
    // Truncated at a segment boundary: the last segment left is not the final one.
    await writeFile(path.join(dir, 'manifests', 'sealed'), sealed.subarray(0, 32 + 1024 * 1024 + 16));
    const truncated = await ManifestReader.open(store, 'sealed', crypto).catch((error: Error) => error);
    expect(String(truncated)).toMatch(/does not decrypt|truncated|does not fit/);
  });
});
