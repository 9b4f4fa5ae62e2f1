import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { ChunkIndex } from './chunk-index.js';
import { type ObjectStore, openObjectStore } from './object-store.js';
import type { Repository } from './types.js';

export const CONFIG_KEY = 'config.json';
const FORMAT = 'openstack-backup-repository';

const configSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  id: z.string().min(1),
  chunkSize: z
    .number()
    .int()
    .min(4096)
    .max(16 * 1024 * 1024),
  createdAt: z.string(),
});
export type RepositoryConfig = z.infer<typeof configSchema>;

/** An open repository: its object store and its chunk index. */
export class RepositoryHandle implements Repository {
  constructor(
    readonly id: string,
    readonly url: string,
    readonly chunkSize: number,
    readonly store: ObjectStore,
    readonly index: ChunkIndex,
  ) {}
}

/** `file:///a/b/` and `file:///a/b` name the same repository. */
export function normalizeRepositoryUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`repository URL ${JSON.stringify(url)} is not a URL`);
  }
  return parsed.href.length > parsed.protocol.length + 3 ? parsed.href.replace(/\/+$/, '') : parsed.href;
}

export async function openRepositoryAt(
  prisma: Db,
  url: string,
  defaultChunkSize: number,
): Promise<RepositoryHandle> {
  const normalized = normalizeRepositoryUrl(url);
  const store = openObjectStore(normalized);
  let raw = await store.get(CONFIG_KEY);
  if (raw === null) {
    const fresh: RepositoryConfig = {
      format: FORMAT,
      version: 1,
      id: randomUUID(),
      chunkSize: defaultChunkSize,
      createdAt: new Date().toISOString(),
    };
    // Two processes creating it at once: one wins, both read the winner's.
    await store.putIfAbsent(CONFIG_KEY, Buffer.from(`${JSON.stringify(fresh, null, 2)}\n`));
    raw = await store.get(CONFIG_KEY);
    if (raw === null) throw new Error(`repository ${normalized}: ${CONFIG_KEY} vanished`);
  }
  let config: RepositoryConfig;
  try {
    config = configSchema.parse(JSON.parse(raw.toString('utf8')));
  } catch (error) {
    throw new Error(`repository ${normalized}: unreadable ${CONFIG_KEY} (${(error as Error).message})`);
  }
  const known = await prisma.repository.findUnique({ where: { url: normalized } });
  if (known && known.id !== config.id) {
    throw new Error(
      `repository ${normalized} has id ${config.id}, but the database knows id ${known.id} at that URL ` +
        '(was the repository replaced?)',
    );
  }
  await prisma.repository.upsert({
    where: { id: config.id },
    create: { id: config.id, url: normalized },
    update: { url: normalized },
  });
  return new RepositoryHandle(
    config.id,
    normalized,
    config.chunkSize,
    store,
    new ChunkIndex(prisma, config.id),
  );
}
