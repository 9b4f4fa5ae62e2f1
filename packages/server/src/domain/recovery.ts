import { type Caller, isAdmin } from '../auth/caller.js';
import type { BackupRecord, DataPlane, ManifestSummary, RebuildIndexOutput } from '../dataplane/index.js';
import type { Db } from '../db/client.js';
import type { VolumeBackup } from '../generated/prisma/client.js';
import { forbidden } from './errors.js';
import type { RepositoryDirectory } from './repositories.js';

const GiB = 1024 ** 3;

/** What a backup's manifest keeps of its database row (manifest format 2), for recovery. */
export function backupRecordOf(
  backup: VolumeBackup,
  data: { dataSnapshotId: string | null; dataTimestamp: Date | string | null },
): BackupRecord {
  const timestamp = data.dataTimestamp;
  return {
    projectId: backup.projectId,
    userId: backup.userId,
    name: backup.name,
    description: backup.description,
    container: backup.container,
    availabilityZone: backup.availabilityZone,
    metadata: (backup.metadata ?? {}) as Record<string, unknown>,
    sizeGb: backup.sizeGb,
    source: backup.source,
    snapshotId: backup.snapshotId,
    dataSnapshotId: data.dataSnapshotId,
    dataTimestamp: timestamp === null ? null : new Date(timestamp).toISOString(),
    createdAt: backup.createdAt.toISOString(),
    instanceBackupId: backup.instanceBackupId,
  };
}

export interface ImportRepositoryReport {
  repositoryId: string;
  url: string;
  /** Backups recorded again from their manifests. */
  imported: string[];
  /** Backups the database knew already. */
  alreadyKnown: string[];
  /** Manifests not imported, and why (unreadable, no record, a backup of another repository). */
  skipped: Array<{ backupId: string; reason: string }>;
  /** The chunk index rebuilt from the packs. */
  index: RebuildIndexOutput;
}

/**
 * Recovery without the database: a repository's manifests alone give back the service's records of
 * its backups (status `available`), and its packs the chunk index, so that a new installation
 * pointed at an old repository lists and restores its backups. Safe to run again (known backups are
 * left alone). Run it while no garbage collection runs on that repository.
 */
export class RecoveryService {
  constructor(
    private readonly deps: { prisma: Db; dataPlane: DataPlane; repositories: RepositoryDirectory },
  ) {}

  /**
   * The admin API action: imports the repository of a backup `container` (null: the default
   * repository). Admin only. Never creates a repository: a URL without one is an error.
   */
  async importRepository(
    caller: Caller,
    input: { container?: string | null },
  ): Promise<ImportRepositoryReport> {
    if (!isAdmin(caller)) throw forbidden("Policy doesn't allow backup:import_record to be performed.");
    return this.importRepositoryAt(this.deps.repositories.urlFor(input.container ?? null));
  }

  /** The same for a repository URL (the `pnpm recover` command). */
  async importRepositoryAt(
    url: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ImportRepositoryReport> {
    const { prisma, dataPlane } = this.deps;
    const repository = await dataPlane.openRepository(url, { mustExist: true });
    const index = await dataPlane.rebuildIndex({ repository, signal: options.signal });
    const report: ImportRepositoryReport = {
      repositoryId: repository.id,
      url: repository.url,
      imported: [],
      alreadyKnown: [],
      skipped: [],
      index,
    };
    const found: ManifestSummary[] = [];
    for await (const item of dataPlane.listManifests(repository)) {
      if (item.manifest) found.push(item.manifest);
      else report.skipped.push({ backupId: item.backupId, reason: item.error ?? 'unreadable manifest' });
    }
    // Parents before their children (the parent link is a foreign key).
    const createdAt = (m: ManifestSummary) => m.record?.createdAt ?? m.createdAt;
    found.sort((a, b) => createdAt(a).localeCompare(createdAt(b)) || a.backupId.localeCompare(b.backupId));
    for (const manifest of found) {
      const known = await prisma.volumeBackup.findUnique({ where: { id: manifest.backupId } });
      if (known) {
        if (known.repositoryId === repository.id) report.alreadyKnown.push(manifest.backupId);
        else
          report.skipped.push({
            backupId: manifest.backupId,
            reason: `the database has this backup in another repository (${known.repositoryId})`,
          });
        continue;
      }
      const record = manifest.record;
      if (!record) {
        report.skipped.push({
          backupId: manifest.backupId,
          reason: 'its manifest (format version 1) does not record the backup (project, user, …)',
        });
        continue;
      }
      if (!/^[0-9a-f-]{36}$/i.test(manifest.backupId)) {
        report.skipped.push({ backupId: manifest.backupId, reason: 'not a backup id of this service' });
        continue;
      }
      const parent = manifest.parentBackupId
        ? await prisma.volumeBackup.findUnique({
            where: { id: manifest.parentBackupId },
            select: { id: true },
          })
        : null;
      await prisma.volumeBackup.create({
        data: {
          id: manifest.backupId,
          projectId: record.projectId,
          userId: record.userId,
          name: record.name,
          description: record.description,
          volumeId: manifest.volumeId,
          snapshotId: record.snapshotId,
          dataSnapshotId: record.dataSnapshotId,
          source: record.source,
          status: 'available',
          sizeGb: record.sizeGb || Math.ceil(manifest.sizeBytes / GiB),
          objectCount: manifest.chunkCount,
          // What this backup added is not known any more: its chunks may be shared by others.
          storedBytes: 0n,
          logicalBytes: BigInt(manifest.logicalBytes),
          isIncremental: manifest.parentBackupId !== null,
          parentId: parent?.id ?? null,
          container: record.container,
          repositoryId: repository.id,
          availabilityZone: record.availabilityZone,
          dataTimestamp: record.dataTimestamp ? new Date(record.dataTimestamp) : null,
          metadata: record.metadata as object,
          progress: 100,
          createdAt: new Date(record.createdAt),
        },
      });
      report.imported.push(manifest.backupId);
    }
    return report;
  }
}
