/**
 * Backup and restore throughput per repository backend, on the benchmark dataset (bench-local.ts):
 *
 *   npx tsx packages/server/src/dataplane/bench-repository.ts \
 *       --repository file:///tmp/bench-repo --repository s3://bench/run [--repository swift://bench/run] \
 *       [--encrypted] [--size-mib 1024] [--repeat 1] [--threads N] [--dir /tmp/repository-bench]
 *
 * S3 settings come from S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY,
 * S3_FORCE_PATH_STYLE; Swift from SWIFT_AUTH_URL, SWIFT_USERNAME, SWIFT_PASSWORD, SWIFT_PROJECT_NAME
 * (and SWIFT_URL), as for the service. `--encrypted` runs each repository with a fresh repository key
 * too. Per repository: full backup, incremental with changed-block tracking (1% changed), restore of
 * the incremental (with its fsync); MiB/s are of the volume's data (non-zero bytes read or written).
 * Each repository URL gets a fresh sub-path per run, removed afterwards. `runRepositoryBenchmark` is
 * the same as a function (for `pnpm bench`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { createPrismaClient } from '../db/client.js';
import { createDatabaseIfMissing } from '../db/database.js';
import { startEphemeralPostgres } from '../db/embedded-postgres.js';
import { applyPendingMigrations } from '../db/migrations.js';
import { withDatabase } from '../db/urls.js';
import { createDataPlane, createFileStorageDriver, type RepositoryOptions } from './index.js';
import { openObjectStore } from './object-store.js';
import { repositorySettingsFromConfig } from './repository-settings.js';
import { swiftAuthFromCredentials } from './swift-auth.js';
import { FileVolumeLab, sha256OfFile, writeBenchmarkDataset, writeRandomChanges } from './testing.js';

const MiB = 1024 * 1024;

export interface RepositoryBenchmarkRow {
  repository: string;
  encrypted: boolean;
  what: 'full backup' | 'incremental (CBT)' | 'restore';
  seconds: number;
  /** Volume data read (backup) or written (restore). */
  dataBytes: number;
  storedBytes?: number;
  mibPerSecond: number;
}

export interface RepositoryBenchmarkOptions {
  /** Repository URLs (each run uses a fresh sub-path of it). */
  repositories: string[];
  /** Also run each with encryption (a fresh key). */
  encrypted?: boolean;
  /** Only encrypted runs. */
  encryptedOnly?: boolean;
  sizeMiB?: number;
  repeat?: number;
  threads?: number;
  dir?: string;
  /** S3/Swift access (default: from the environment, as the service reads it). */
  options?: RepositoryOptions;
  log?: (line: string) => void;
}

/** Options for S3 and Swift from the environment (S3_*, SWIFT_*), as the service reads them. */
export function repositoryOptionsFromEnvironment(env: NodeJS.ProcessEnv = process.env): {
  options: RepositoryOptions;
  close(): Promise<void>;
} {
  const settings = repositorySettingsFromConfig(loadConfig(env));
  const swift = settings.swift.own
    ? swiftAuthFromCredentials({
        ...settings.swift.own,
        interface: 'public',
        storageUrl: settings.swift.storageUrl,
        http: { timeoutMs: 60_000, maxAttempts: 5 },
      })
    : undefined;
  return {
    options: {
      backends: { s3: settings.s3, ...(swift ? { swift } : {}), remote: { concurrency: settings.requests } },
    },
    close: async () => {
      await swift?.close();
    },
  };
}

export async function runRepositoryBenchmark(
  opts: RepositoryBenchmarkOptions,
): Promise<RepositoryBenchmarkRow[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const sizeBytes = (opts.sizeMiB ?? 1024) * MiB;
  const repeat = Math.max(1, opts.repeat ?? 1);
  const dir = opts.dir ?? '/tmp/repository-bench';
  const env = opts.options ? null : repositoryOptionsFromEnvironment();
  const options = opts.options ?? env!.options;
  const rows: RepositoryBenchmarkRow[] = [];

  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const lab = new FileVolumeLab(path.join(dir, 'volumes'));
  log(`building the dataset (${sizeBytes / MiB} MiB) in ${dir} ...`);
  await lab.createVolume('bench', sizeBytes);
  await writeBenchmarkDataset(lab, 'bench', sizeBytes, { text: 'repetitive' });
  await lab.snapshot('bench', 's0');
  await writeRandomChanges(lab, 'bench', sizeBytes);
  await lab.snapshot('bench', 's1');
  const expected = await sha256OfFile(lab.snapshotPath('s1'));

  const pg = await startEphemeralPostgres({});
  const dbUrl = withDatabase(pg.url, 'bench');
  await createDatabaseIfMissing(pg.url, 'bench');
  await applyPendingMigrations(dbUrl);
  const prisma = createPrismaClient(dbUrl);
  const driver = createFileStorageDriver({ dir: lab.dir });
  const variants = opts.encryptedOnly ? [true] : opts.encrypted ? [false, true] : [false];
  try {
    for (const encrypted of variants) {
      const plane = createDataPlane({
        prisma,
        ...(opts.threads ? { threads: opts.threads } : {}),
        repositories: { ...options, key: encrypted ? randomBytes(32) : null },
      });
      try {
        for (const base of opts.repositories) {
          for (let rep = 0; rep < repeat; rep++) {
            const url = `${base.replace(/\/+$/, '')}/bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
            const label = `${base}${encrypted ? ' (encrypted)' : ''}`;
            const repository = await plane.openRepository(url);
            try {
              const timedBackup = async (
                backupId: string,
                snapshotId: string,
                parent?: { backupId: string; snapshotId: string },
              ) => {
                const source = await driver.openSnapshot({ volumeId: 'bench', snapshotId });
                const started = process.hrtime.bigint();
                try {
                  const result = await plane.backup({
                    repository,
                    backupId,
                    volumeId: 'bench',
                    source,
                    ...(parent ? { parent } : {}),
                  });
                  return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
                } finally {
                  await source.close();
                }
              };
              const full = await timedBackup('full', 's0');
              const incremental = await timedBackup('incr', 's1', { backupId: 'full', snapshotId: 's0' });
              const target = await driver.openForRestore({ volumeId: 'restored', sizeBytes });
              const started = process.hrtime.bigint();
              const restored = await plane.restore({ repository, backupId: 'incr', target });
              await target.finish();
              const restoreSeconds = Number(process.hrtime.bigint() - started) / 1e9;
              if ((await sha256OfFile(lab.volumePath('restored'))) !== expected) {
                throw new Error(`${label}: restore is not byte-identical`);
              }
              const row = (
                what: RepositoryBenchmarkRow['what'],
                seconds: number,
                dataBytes: number,
                storedBytes?: number,
              ): RepositoryBenchmarkRow => ({
                repository: base,
                encrypted,
                what,
                seconds,
                dataBytes,
                ...(storedBytes !== undefined ? { storedBytes } : {}),
                mibPerSecond: dataBytes / MiB / seconds,
              });
              const added = [
                row('full backup', full.seconds, full.result.readBytes, full.result.storedBytes),
                row(
                  'incremental (CBT)',
                  incremental.seconds,
                  incremental.result.readBytes,
                  incremental.result.storedBytes,
                ),
                row('restore', restoreSeconds, restored.bytesWritten),
              ];
              rows.push(...added);
              for (const r of added) {
                log(`${label}: ${r.what} ${r.seconds.toFixed(2)} s, ${r.mibPerSecond.toFixed(1)} MiB/s`);
              }
            } finally {
              // Leave nothing behind in the bucket or container.
              const store = openObjectStore(url, options.backends);
              try {
                for await (const tmp of store.listTemporary()) await store.deleteTemporary(tmp.key);
                const keys: string[] = [];
                for await (const object of store.list('')) keys.push(object.key);
                for (const key of keys) await store.delete(key).catch(() => {});
              } finally {
                await store.close?.();
              }
              await rm(lab.volumePath('restored'), { force: true });
            }
          }
        }
      } finally {
        await plane.close();
      }
    }
  } finally {
    await prisma.$disconnect();
    await pg.stop();
    await env?.close();
  }
  return rows;
}

/** Best (fastest) of the repeated runs per repository, variant and operation, as a Markdown table. */
export function repositoryBenchmarkTable(rows: RepositoryBenchmarkRow[]): string {
  const best = new Map<string, RepositoryBenchmarkRow>();
  for (const row of rows) {
    const key = `${row.repository}|${row.encrypted}|${row.what}`;
    const known = best.get(key);
    if (!known || row.seconds < known.seconds) best.set(key, row);
  }
  const lines = [
    '| repository | encrypted | run | seconds | data MiB | MiB/s | stored MiB |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  for (const r of best.values()) {
    lines.push(
      `| ${r.repository} | ${r.encrypted ? 'yes' : 'no'} | ${r.what} | ${r.seconds.toFixed(2)} | ${(r.dataBytes / MiB).toFixed(0)} | ` +
        `${r.mibPerSecond.toFixed(1)} | ${r.storedBytes === undefined ? '' : (r.storedBytes / MiB).toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      repository: { type: 'string', multiple: true },
      encrypted: { type: 'boolean', default: false },
      'encrypted-only': { type: 'boolean', default: false },
      'size-mib': { type: 'string', default: '1024' },
      repeat: { type: 'string', default: '1' },
      threads: { type: 'string' },
      dir: { type: 'string', default: '/tmp/repository-bench' },
    },
  });
  const repositories = values.repository ?? [];
  if (repositories.length === 0) {
    console.error(
      'usage: bench-repository.ts --repository <url> [--repository <url> …] [--encrypted] [--size-mib N]',
    );
    process.exit(2);
  }
  runRepositoryBenchmark({
    repositories,
    encrypted: values.encrypted,
    encryptedOnly: values['encrypted-only'],
    sizeMiB: Number(values['size-mib']),
    repeat: Number(values.repeat),
    threads: values.threads ? Number(values.threads) : undefined,
    dir: values.dir,
  })
    .then((rows) => {
      console.log('');
      console.log(repositoryBenchmarkTable(rows));
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
