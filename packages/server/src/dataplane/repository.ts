import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { ChunkIndex } from './chunk-index.js';
import {
  keyObjectKey,
  operatorKeyId,
  RepositoryCrypto,
  RepositoryKeyError,
  unwrapMasterKey,
  wrapMasterKey,
} from './crypto.js';
import { type ObjectStore, type ObjectStoreBackends, openObjectStore } from './object-store.js';
import type { Repository } from './types.js';

export const CONFIG_KEY = 'config.json';
const FORMAT = 'openstack-backup-repository';

const encryptionSchema = z.object({
  algorithm: z.literal('aes-256-gcm'),
  chunkIds: z.literal('hmac-sha256'),
  kdf: z.literal('hkdf-sha256'),
  /** HMAC of a constant under the master key: tells a key object of this repository from a stray one. */
  keyCheck: z.string().regex(/^[0-9a-f]{32}$/),
});

const configSchema = z.object({
  format: z.literal(FORMAT),
  /** 1: unencrypted; 2: encrypted (older versions of the service refuse it instead of misreading it). */
  version: z.union([z.literal(1), z.literal(2)]),
  id: z.string().min(1),
  chunkSize: z
    .number()
    .int()
    .min(4096)
    .max(16 * 1024 * 1024),
  createdAt: z.string(),
  encryption: encryptionSchema.optional(),
});
export type RepositoryConfig = z.infer<typeof configSchema>;

export interface RepositoryOptions {
  backends?: ObjectStoreBackends;
  /**
   * The operator's repository key (REPOSITORY_KEY / REPOSITORY_KEY_FILE). Repositories created with
   * it are encrypted; encrypted repositories need it. Null: new repositories are not encrypted.
   */
  key?: Buffer | null;
  /** Told when a key is configured but the repository at hand was created without encryption. */
  onUnencrypted?(url: string): void;
  /** Refuse to create a repository where there is none (recovery). */
  mustExist?: boolean;
}

/** An open repository: its object store, its keys (null: unencrypted) and its chunk index. */
export class RepositoryHandle implements Repository {
  constructor(
    readonly id: string,
    readonly url: string,
    readonly chunkSize: number,
    readonly store: ObjectStore,
    readonly index: ChunkIndex,
    readonly crypto: RepositoryCrypto | null = null,
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

function keyCheckOf(masterKey: Buffer): string {
  return createHmac('sha256', masterKey)
    .update('openstack-backup master key check')
    .digest('hex')
    .slice(0, 32);
}

function parseConfig(url: string, raw: Buffer): RepositoryConfig {
  let config: RepositoryConfig;
  try {
    config = configSchema.parse(JSON.parse(raw.toString('utf8')));
  } catch (error) {
    throw new Error(`repository ${url}: unreadable ${CONFIG_KEY} (${(error as Error).message})`);
  }
  if ((config.version === 2) !== (config.encryption !== undefined)) {
    throw new Error(
      `repository ${url}: ${CONFIG_KEY} version ${config.version} does not match its encryption`,
    );
  }
  return config;
}

/**
 * Reads (creating on first use) a repository's config and, when it is encrypted, opens its master
 * key with the operator key. Needs no database (recovery, the key tool).
 *
 * Creation, encrypted: the wrapped master key `keys/<key id>` is written first (if absent), then
 * `config.json` (if absent) naming the repository id the key object was made for and the master
 * key's check value. Both with putIfAbsent, so processes creating the repository at once (or one
 * finishing what a crashed one began) all end up with the same id and master key.
 */
export async function readRepository(
  store: ObjectStore,
  url: string,
  defaultChunkSize: number,
  options: RepositoryOptions = {},
): Promise<{ config: RepositoryConfig; crypto: RepositoryCrypto | null }> {
  const key = options.key ?? null;
  let raw = await store.get(CONFIG_KEY);
  if (raw === null) {
    if (options.mustExist) throw new Error(`there is no repository at ${url} (no ${CONFIG_KEY})`);
    await store.prepare?.();
    raw = await createConfig(store, url, defaultChunkSize, key);
  }
  const config = parseConfig(url, raw);
  if (!config.encryption) {
    if (key) options.onUnencrypted?.(url);
    return { config, crypto: null };
  }
  if (!key) {
    throw new RepositoryKeyError(
      `repository ${url} is encrypted: set REPOSITORY_KEY or REPOSITORY_KEY_FILE to one of its keys`,
    );
  }
  const keyId = operatorKeyId(key);
  const object = await store.get(keyObjectKey(keyId));
  if (object === null) {
    const known: string[] = [];
    for await (const info of store.list('keys/')) known.push(info.key.slice('keys/'.length));
    throw new RepositoryKeyError(
      `repository ${url} is encrypted, and the configured key (id ${keyId}) is not one of its keys ` +
        `(${known.length > 0 ? `ids ${known.join(', ')}` : 'it has none'}): wrong REPOSITORY_KEY?`,
    );
  }
  const masterKey = unwrapMasterKey(parseJson(object, `keys/${keyId}`), key, config.id);
  if (keyCheckOf(masterKey) !== config.encryption.keyCheck) {
    throw new RepositoryKeyError(
      `repository ${url}: key object keys/${keyId} holds another master key than the repository's`,
    );
  }
  return { config, crypto: new RepositoryCrypto(masterKey, keyId) };
}

async function createConfig(
  store: ObjectStore,
  url: string,
  chunkSize: number,
  key: Buffer | null,
): Promise<Buffer> {
  let fresh: RepositoryConfig = {
    format: FORMAT,
    version: 1,
    id: randomUUID(),
    chunkSize,
    createdAt: new Date().toISOString(),
  };
  if (key) {
    const keyKey = keyObjectKey(operatorKeyId(key));
    const masterKey = randomBytes(32);
    const wrapped = wrapMasterKey(masterKey, key, fresh.id);
    let repositoryId = fresh.id;
    let keyCheck = keyCheckOf(masterKey);
    if (!(await store.putIfAbsent(keyKey, Buffer.from(`${JSON.stringify(wrapped, null, 2)}\n`)))) {
      // Another process is creating it with the same key (or crashed doing so): use its master key.
      const existing = await store.get(keyKey);
      if (existing === null) throw new Error(`repository ${url}: ${keyKey} vanished`);
      const parsed = parseJson(existing, keyKey) as { repositoryId?: unknown };
      repositoryId = String(parsed.repositoryId);
      keyCheck = keyCheckOf(unwrapMasterKey(parsed, key, repositoryId));
    }
    fresh = {
      ...fresh,
      version: 2,
      id: repositoryId,
      encryption: { algorithm: 'aes-256-gcm', chunkIds: 'hmac-sha256', kdf: 'hkdf-sha256', keyCheck },
    };
  }
  // Two processes creating it at once: one wins, both read the winner's.
  await store.putIfAbsent(CONFIG_KEY, Buffer.from(`${JSON.stringify(fresh, null, 2)}\n`));
  const raw = await store.get(CONFIG_KEY);
  if (raw === null) throw new Error(`repository ${url}: ${CONFIG_KEY} vanished`);
  return raw;
}

function parseJson(raw: Buffer, what: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RepositoryKeyError(`${what} is not JSON`);
  }
}

export async function openRepositoryAt(
  prisma: Db,
  url: string,
  defaultChunkSize: number,
  options: RepositoryOptions = {},
): Promise<RepositoryHandle> {
  const normalized = normalizeRepositoryUrl(url);
  const store = openObjectStore(normalized, options.backends);
  try {
    const { config, crypto } = await readRepository(store, normalized, defaultChunkSize, options);
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
      crypto,
    );
  } catch (error) {
    await store.close?.().catch(() => {});
    throw error;
  }
}
