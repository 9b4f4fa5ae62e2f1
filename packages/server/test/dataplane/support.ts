import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database.js';
import {
  type BackupOutput,
  createDataPlane,
  createFileStorageDriver,
  type DataPlane,
  type Repository,
  type RepositoryOptions,
  type StorageDriver,
} from '../../src/dataplane/index.js';
import { FileVolumeLab, sha256OfFile } from '../../src/dataplane/testing.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export interface Harness {
  db: TestDatabase;
  root: string;
  lab: FileVolumeLab;
  driver: StorageDriver;
  plane: DataPlane;
  repositoryUrl: string;
  repositoryDir: string;
  repository: Repository;
  backup(input: {
    volumeId: string;
    snapshotId: string;
    backupId: string;
    parent?: { backupId: string; snapshotId: string | null };
    signal?: AbortSignal;
    onProgress?(done: number, total: number): void;
  }): Promise<BackupOutput>;
  /** Restores into `volume-<volumeId>` and returns the SHA-256 of the result. */
  restore(backupId: string, volumeId: string, sizeBytes: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * A temp dir with a `file` volume directory and a repository, a fresh database and a data plane.
 * `repository`: another repository URL (e.g. s3://) and its options (backends, key).
 */
export async function createHarness(
  options: { threads?: number; repository?: { url?: string; options?: RepositoryOptions } } = {},
): Promise<Harness> {
  const db = await createTestDatabase();
  const root = await mkdtemp(path.join(os.tmpdir(), 'dataplane-test-'));
  const lab = new FileVolumeLab(path.join(root, 'volumes'));
  const driver = createFileStorageDriver({ dir: lab.dir });
  const plane = createDataPlane({
    prisma: db.prisma,
    threads: options.threads ?? 2,
    repositories: options.repository?.options,
  });
  const repositoryDir = path.join(root, 'repository');
  const repositoryUrl = options.repository?.url ?? pathToFileURL(repositoryDir).href;
  const repository = await plane.openRepository(repositoryUrl);
  const h: Harness = {
    db,
    root,
    lab,
    driver,
    plane,
    repositoryUrl,
    repositoryDir,
    repository,
    async backup({ volumeId, snapshotId, backupId, parent, signal, onProgress }) {
      const source = await driver.openSnapshot({ volumeId, snapshotId });
      try {
        return await plane.backup({
          repository,
          backupId,
          volumeId,
          source,
          ...(parent ? { parent } : {}),
          ...(signal ? { signal } : {}),
          ...(onProgress ? { onProgress } : {}),
        });
      } finally {
        await source.close();
      }
    },
    async restore(backupId, volumeId, sizeBytes) {
      const target = await driver.openForRestore({ volumeId, sizeBytes });
      try {
        await plane.restore({ repository, backupId, target });
      } catch (error) {
        await target.abort();
        throw error;
      }
      await target.finish();
      return sha256OfFile(lab.volumePath(volumeId));
    },
    async close() {
      await plane.close();
      await db.drop();
      await rm(root, { recursive: true, force: true });
    },
  };
  return h;
}
