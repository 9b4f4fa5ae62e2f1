import { keyObjectKey, operatorKeyId, RepositoryKeyError } from './crypto.js';
import type { ObjectStore } from './object-store.js';
import { readRepository } from './repository.js';

/**
 * Key management of an encrypted repository (`pnpm repository-key`). The data is encrypted under
 * the repository's master key, which never changes; each operator key that may open the repository
 * has an object `keys/<key id>` holding the master key wrapped by it. Adding a key wraps the master
 * key once more; removing one deletes its object. Rotation = add the new key, switch the service's
 * configuration to it (every replica), remove the old one. No data is rewritten.
 */

export async function listRepositoryKeys(store: ObjectStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const object of store.list('keys/')) ids.push(object.key.slice('keys/'.length));
  return ids.sort();
}

/** Checks that `key` opens the encrypted repository (RepositoryKeyError otherwise). */
export async function checkRepositoryKey(store: ObjectStore, url: string, key: Buffer): Promise<void> {
  await openEncrypted(store, url, key);
}

async function openEncrypted(store: ObjectStore, url: string, key: Buffer) {
  const { config, crypto } = await readRepository(store, url, 0, { key, mustExist: true });
  if (!crypto) throw new RepositoryKeyError(`repository ${url} is not encrypted: it has no keys to manage`);
  return { config, crypto };
}

/** Lets `newKey` open the repository too (`currentKey` must open it). Returns the new key's id. */
export async function addRepositoryKey(
  store: ObjectStore,
  url: string,
  currentKey: Buffer,
  newKey: Buffer,
): Promise<string> {
  const { config, crypto } = await openEncrypted(store, url, currentKey);
  const wrapped = crypto.wrapFor(newKey, config.id);
  const added = await store.putIfAbsent(
    keyObjectKey(wrapped.keyId),
    Buffer.from(`${JSON.stringify(wrapped, null, 2)}\n`),
  );
  if (!added) {
    // Already there: make sure it is a key of this repository (it opens it).
    await openEncrypted(store, url, newKey);
  }
  return wrapped.keyId;
}

/**
 * Removes the key `keyId`. Proving possession of another key of the repository (`currentKey`) is
 * required, so that the last key, or the one in hand, is never removed.
 */
export async function removeRepositoryKey(
  store: ObjectStore,
  url: string,
  currentKey: Buffer,
  keyId: string,
): Promise<void> {
  await openEncrypted(store, url, currentKey);
  if (operatorKeyId(currentKey) === keyId) {
    throw new RepositoryKeyError(
      `key ${keyId} is the configured key: configure another key of the repository first (it must remain able to open it)`,
    );
  }
  const ids = await listRepositoryKeys(store);
  if (!ids.includes(keyId))
    throw new RepositoryKeyError(`repository ${url} has no key ${keyId} (keys: ${ids.join(', ')})`);
  await store.delete(keyObjectKey(keyId));
}
