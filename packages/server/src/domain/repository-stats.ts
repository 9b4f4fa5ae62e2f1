import { type Caller, isAdmin } from '../auth/caller.js';
import type { DataPlane } from '../dataplane/index.js';
import type { Db } from '../db/client.js';
import { redactUrl } from '../db/urls.js';
import { forbidden, notFound } from './errors.js';
import type { RepositoryDirectory } from './repositories.js';

export interface RepositoryStatistics {
  id: string;
  /** Where it is (a password in the URL replaced). */
  url: string;
  /** Backups whose data the repository holds (available or being restored from). */
  backupCount: number;
  /** Non-zero bytes of the volumes those backups describe, added up (what a copy of each would store). */
  logicalBytes: number;
  /** Bytes the repository's packs take (after deduplication and compression). */
  storedBytes: number;
  /** logicalBytes / storedBytes: how much deduplication and compression save (null while empty). */
  dedupRatio: number | null;
  chunkCount: number;
  packCount: number;
}

const HELD = ['available', 'restoring'] as const;

/**
 * Statistics of the backup repositories. A repository is the service's, shared by every project
 * (chunks are deduplicated across them), so its figures are an operator's: admin only.
 */
export class RepositoryStatsService {
  constructor(
    private readonly deps: { prisma: Db; dataPlane: DataPlane; repositories: RepositoryDirectory },
  ) {}

  async list(caller: Caller): Promise<RepositoryStatistics[]> {
    assertAdmin(caller);
    const rows = await this.deps.prisma.repository.findMany({ orderBy: { createdAt: 'asc' } });
    return Promise.all(rows.map((row) => this.statsOf(row.id)));
  }

  async get(caller: Caller, repositoryId: string): Promise<RepositoryStatistics> {
    assertAdmin(caller);
    const row = await this.deps.prisma.repository.findUnique({ where: { id: repositoryId } });
    if (!row) throw notFound(`Repository ${repositoryId} could not be found.`);
    return this.statsOf(row.id);
  }

  private async statsOf(repositoryId: string): Promise<RepositoryStatistics> {
    const repository = await this.deps.repositories.byId(repositoryId);
    const [stored, logical] = await Promise.all([
      this.deps.dataPlane.stats(repository),
      this.deps.prisma.volumeBackup.aggregate({
        where: { repositoryId, status: { in: [...HELD] } },
        _sum: { logicalBytes: true },
        _count: { _all: true },
      }),
    ]);
    const logicalBytes = Number(logical._sum.logicalBytes ?? 0n);
    return {
      id: repository.id,
      url: redactUrl(repository.url),
      backupCount: logical._count._all,
      logicalBytes,
      storedBytes: stored.storedBytes,
      dedupRatio: stored.storedBytes > 0 ? logicalBytes / stored.storedBytes : null,
      chunkCount: stored.chunkCount,
      packCount: stored.packCount,
    };
  }
}

function assertAdmin(caller: Caller) {
  if (!isAdmin(caller))
    throw forbidden(
      "Policy doesn't allow repository statistics to be read: they are the operator's (admin).",
    );
}
