import { LRUCache } from 'lru-cache';
import type { Db } from '../../db/client.js';

export interface RenderedPage {
  /** The JSON array of the page's /v1 views. */
  views: string;
  lastId: string | undefined;
  more: boolean;
}

/**
 * Rendered /v1 list pages of one project, valid while the project's list version (table
 * BackupListVersion, moved in the commit of every change to its backups by a deferred trigger) is the
 * one they were rendered at. A request reads the version, one primary-key lookup, instead of
 * scanning and rendering the page; any replica's commit is seen by the next read on every replica, so
 * a caller always sees its own writes and never a page older than the last commit it could know of.
 *
 * A page is rendered after the version was read, so it holds at least every change up to that
 * version: serving it for that version is never stale (at worst a little newer).
 */
export class ListPageCache {
  private readonly pages: LRUCache<string, RenderedPage & { version: string }>;
  /** Renders under way, so that concurrent misses of one page at one version render it once. */
  private readonly rendering = new Map<string, Promise<RenderedPage>>();

  constructor(
    private readonly prisma: Db,
    maxBytes = 64 * 1024 * 1024,
  ) {
    this.pages = new LRUCache({
      maxSize: maxBytes,
      // UTF-16 in memory: two bytes a character, plus the key.
      sizeCalculation: (page, key) => 2 * (page.views.length + key.length) + 64,
    });
  }

  /** The page `key` of `projectId`, from the cache when its version is current, else from `render`. */
  async get(projectId: string, key: string, render: () => Promise<RenderedPage>): Promise<RenderedPage> {
    const version = await this.version(projectId);
    const cacheKey = `${projectId}\n${key}`;
    const cached = this.pages.get(cacheKey);
    if (cached?.version === version) return cached;
    const renderKey = `${version}\n${cacheKey}`;
    let pending = this.rendering.get(renderKey);
    if (!pending) {
      pending = render().then((page) => {
        this.pages.set(cacheKey, { ...page, version });
        return page;
      });
      this.rendering.set(renderKey, pending);
      pending.then(
        () => this.rendering.delete(renderKey),
        () => this.rendering.delete(renderKey),
      );
    }
    return pending;
  }

  private async version(projectId: string): Promise<string> {
    const rows = await this.prisma.$queryRawUnsafe<Array<{ version: string }>>(
      'SELECT version::text AS version FROM "BackupListVersion" WHERE "projectId" = $1',
      projectId,
    );
    return rows[0]?.version ?? '0';
  }
}
