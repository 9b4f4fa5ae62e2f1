import type { DataPlane, Repository } from '../dataplane/index.js';
import type { Db } from '../db/client.js';
import { badRequest } from './errors.js';

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

  forContainer(container: string | null | undefined): Promise<Repository> {
    return this.dataPlane.openRepository(this.urlFor(container));
  }

  async byId(repositoryId: string): Promise<Repository> {
    const row = await this.prisma.repository.findUniqueOrThrow({ where: { id: repositoryId } });
    return this.dataPlane.openRepository(row.url);
  }
}
