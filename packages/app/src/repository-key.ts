#!/usr/bin/env -S npx tsx
// `pnpm repository-key list|add|remove [--repository <url> | --container <name>] …`: the keys that
// open an encrypted repository (README, "Encryption at rest"). The configured key (REPOSITORY_KEY or
// REPOSITORY_KEY_FILE) must open the repository.
//   list                                   key ids of the repository (* = the configured key)
//   add --new-key-file <file>              lets a new key open it too (prints the new key's id)
//   remove --key-id <id>                   removes a key (never the configured one, never the last)
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  addRepositoryKey,
  type Config,
  checkRepositoryKey,
  listRepositoryKeys,
  loadConfig,
  normalizeRepositoryUrl,
  OpenStackCloud,
  openObjectStore,
  operatorKeyId,
  readRepositoryKeyFile,
  removeRepositoryKey,
  repositoryOptionsOf,
  repositorySettingsFromConfig,
} from '@backup-service/server';

const USAGE =
  'usage: pnpm repository-key list|add|remove [--repository <url> | --container <name>] [--new-key-file <file>] [--key-id <id>]';

let config: Config;
let command: string;
let values: { repository?: string; container?: string; 'new-key-file'?: string; 'key-id'?: string };
try {
  const parsed = parseArgs({
    options: {
      repository: { type: 'string' },
      container: { type: 'string' },
      'new-key-file': { type: 'string' },
      'key-id': { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  values = parsed.values;
  command = parsed.positionals[0] ?? '';
  if (!['list', 'add', 'remove'].includes(command) || parsed.positionals.length !== 1) throw new Error(USAGE);
  if (command === 'add' && !values['new-key-file']) throw new Error('add needs --new-key-file <file>');
  if (command === 'remove' && !values['key-id']) throw new Error('remove needs --key-id <id>');
  config = loadConfig();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}

const settings = repositorySettingsFromConfig(config);
const cloud = new OpenStackCloud({
  authUrl: config.OS_AUTH_URL ?? `http://127.0.0.1:${config.SIM_KEYSTONE_PORT}/v3`,
  credentials: {
    username: config.OS_USERNAME,
    password: config.OS_PASSWORD ?? '',
    projectName: config.OS_PROJECT_NAME,
    userDomainName: config.OS_USER_DOMAIN_NAME,
    projectDomainName: config.OS_PROJECT_DOMAIN_NAME,
  },
  interface: config.OS_INTERFACE,
  region: config.OS_REGION_NAME,
  http: { timeoutMs: config.OPENSTACK_TIMEOUT_MS, maxAttempts: config.OPENSTACK_MAX_ATTEMPTS },
});
const options = repositoryOptionsOf(settings, cloud);
const defaultUrl =
  config.REPOSITORY_URL ?? pathToFileURL(path.join(path.resolve(config.DATA_DIR), 'repository')).href;
const container = values.container;
const url = normalizeRepositoryUrl(
  values.repository ??
    (container
      ? (config.REPOSITORY_CONTAINERS?.[container] ?? `${defaultUrl.replace(/\/+$/, '')}/${container}`)
      : defaultUrl),
);
const store = openObjectStore(url, options.backends);
let exitCode = 0;
try {
  if (!settings.key) throw new Error('set REPOSITORY_KEY or REPOSITORY_KEY_FILE to a key of the repository');
  if (command === 'list') {
    await checkRepositoryKey(store, url, settings.key);
    const mine = operatorKeyId(settings.key);
    for (const id of await listRepositoryKeys(store))
      process.stdout.write(`${id}${id === mine ? ' *' : ''}\n`);
  } else if (command === 'add') {
    const id = await addRepositoryKey(
      store,
      url,
      settings.key,
      readRepositoryKeyFile(values['new-key-file']!, '--new-key-file'),
    );
    process.stdout.write(`added key ${id} to ${url}\n`);
  } else {
    await removeRepositoryKey(store, url, settings.key, values['key-id']!);
    process.stdout.write(`removed key ${values['key-id']} from ${url}\n`);
  }
} catch (error) {
  process.stderr.write(`repository-key ${command} failed: ${(error as Error).message}\n`);
  exitCode = 1;
} finally {
  await store.close?.();
  await options.close();
  await cloud.close();
}
process.exit(exitCode);
