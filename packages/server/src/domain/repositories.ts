import { type DataPlane, type Repository, RepositoryKeyError } from '../dataplane/index.js';
import type { Db } from '../db/client.js';
import { badRequest, DomainError } from './errors.js';

const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * Which repository a backup goes to. As in Cinder, `container` names a namespace inside the backup
 * backend: a configured repository URL (REPOSITORY_CONTAINERS), else a sub-path of the default one
 * (`<REPOSITORY_URL>/<container>`). No container: the default repository.
 */
export class RepositoryDirectory {
  constructor(
    private readonly prisma: Db,
    private readonly dataPlane: DataPlane,
    private readonly defaultUrl: string,
    private readonly containers: Record<string, string> = {},
  ) {}

  urlFor(container: string | null | undefined): string {
    if (!container) return this.defaultUrl;
    const configured = this.containers[container];
    if (configured) return configured;
    if (!CONTAINER_NAME.test(container)) {
      throw badRequest(
        `Invalid container ${JSON.stringify(container)}: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      );
    }
    return `${this.defaultUrl.replace(/\/+$/, '')}/${container}`;
  }

  /**
   * Reads the packs a restore of the backup starts with into the page cache, until `signal`: for
   * while Cinder creates the target volume. Never rejects; a failure only loses the head start.
   */
  async warmRestore(backup: { id: string; repositoryId: string }, signal: AbortSignal): Promise<void> {
    const repository = await this.byId(backup.repositoryId).catch(() => null);
    if (repository) await this.dataPlane.warmRestore({ repository, backupId: backup.id, signal });
  }

  forContainer(container: string | null | undefined): Promise<Repository> {
    return this.open(this.urlFor(container));
  }

  async byId(repositoryId: string): Promise<Repository> {
    const row = await this.prisma.repository.findUniqueOrThrow({ where: { id: repositoryId } });
    return this.open(row.url);
  }

  /** A missing or wrong repository key is the operator's to fix: said as it is, not as "internal error". */
  private async open(url: string): Promise<Repository> {
    try {
      return await this.dataPlane.openRepository(url);
    } catch (error) {
      if (error instanceof RepositoryKeyError) {
        throw new DomainError('INTERNAL', `The backup repository cannot be opened: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}
