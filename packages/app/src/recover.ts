#!/usr/bin/env -S npx tsx
import path from 'node:path';
import { pathToFileURL } from 'node:url';
// `pnpm recover [--repository <url> | --container <name>]`: recovery without the database. Records
// again, in the database the configuration names, every backup whose manifest the repository holds,
// and rebuilds the chunk index from its packs, so that a new installation pointed at an old
// repository lists and restores its backups. Same configuration as `pnpm start` (DATABASE_URL,
// REPOSITORY_URL, REPOSITORY_KEY…, S3_*, SWIFT_*, OS_*). Safe to run again.
import { parseArgs } from 'node:util';
import {
  type Config,
  ConfigError,
  createDataPlane,
  createLogger,
  loadConfig,
  OpenStackCloud,
  openDatabase,
  RecoveryService,
  RepositoryDirectory,
  repositoryOptionsOf,
  repositorySettingsFromConfig,
} from '@backup-service/server';

const USAGE = 'usage: pnpm recover [--repository <url> | --container <name>]';

let config: Config;
let args: { repository?: string; container?: string };
try {
  args = parseArgs({
    options: { repository: { type: 'string' }, container: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  }).values as typeof args & { help?: boolean };
  if ((args as { help?: boolean }).help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (args.repository && args.container) throw new Error('give --repository or --container, not both');
  config = loadConfig();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${error instanceof ConfigError ? '' : `${USAGE}\n`}`);
  process.exit(2);
}

const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
const dataDir = path.resolve(config.DATA_DIR);
const defaultUrl = config.REPOSITORY_URL ?? pathToFileURL(path.join(dataDir, 'repository')).href;
const http = { timeoutMs: config.OPENSTACK_TIMEOUT_MS, maxAttempts: config.OPENSTACK_MAX_ATTEMPTS };
// Swift repositories go through the service user's Keystone session (or SWIFT_AUTH_URL's).
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
  http,
});
const repositoryOptions = repositoryOptionsOf(repositorySettingsFromConfig(config), cloud);

let exitCode = 0;
try {
  const database = await openDatabase(config, logger);
  const dataPlane = createDataPlane({
    prisma: database.prisma,
    threads: 1,
    logger,
    repositories: repositoryOptions,
  });
  try {
    const directory = new RepositoryDirectory(
      database.prisma,
      dataPlane,
      defaultUrl,
      config.REPOSITORY_CONTAINERS,
    );
    const url = args.repository ?? directory.urlFor(args.container ?? null);
    const recovery = new RecoveryService({ prisma: database.prisma, dataPlane, repositories: directory });
    const report = await recovery.importRepositoryAt(url);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(
      `recovered ${report.imported.length} backup(s) from ${report.url} (${report.alreadyKnown.length} known already, ` +
        `${report.skipped.length} skipped; ${report.index.indexedPacks} pack(s), ${report.index.indexedChunks} chunk(s) indexed)\n`,
    );
    if (report.skipped.length > 0 || report.index.damagedPacks.length > 0) exitCode = 1;
  } finally {
    await dataPlane.close();
    await database.close();
  }
} catch (error) {
  process.stderr.write(`recovery failed: ${(error as Error).message}\n`);
  exitCode = 1;
} finally {
  await repositoryOptions.close();
  await cloud.close();
}
process.exit(exitCode);
