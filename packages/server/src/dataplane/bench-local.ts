/**
 * Local benchmark of the data plane against borg and restic on the same data:
 *
 *   npx tsx packages/server/src/dataplane/bench-local.ts [--size-mib 1024] [--dir /tmp/dataplane-bench]
 *       [--repeat 3] [--threads N] [--no-compare] [--reuse] [--drop-caches] [--profile]
 *
 * Dataset: a volume of 1 GiB = 256 MiB random, 256 MiB repetitive text, 512 MiB never written; the 1%
 * change = 40 writes of 256 KiB of random bytes at random offsets. Runs: full backup, incremental with
 * changed-block tracking, the same incremental by a full read, restore of the incremental (including
 * the final fsync) — then the same data through `borg create -C lz4` and `restic backup` /
 * `restic restore` (when installed: apt-get install -y borgbackup restic).
 *
 * Each run is repeated (`--repeat`) and the fastest is reported (the machine may be shared: the
 * minimum is the least disturbed); CPU seconds are reported too. Peak RSS is the largest seen.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createPrismaClient } from '../db/client.js';
import { createDatabaseIfMissing } from '../db/database.js';
import { startEphemeralPostgres } from '../db/embedded-postgres.js';
import { applyPendingMigrations } from '../db/migrations.js';
import { withDatabase } from '../db/urls.js';
import { createDataPlane, createFileStorageDriver, type Repository } from './index.js';
import {
  FileVolumeLab,
  sha256OfFile,
  sparseCopy,
  writeBenchmarkDataset,
  writeRandomChanges,
} from './testing.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    dir: { type: 'string', default: '/tmp/dataplane-bench' },
    repeat: { type: 'string', default: '3' },
    /** The text quarter: `repetitive` (the benchmark's) or `varied` (never repeats; zstd-bound). */
    text: { type: 'string', default: 'repetitive' },
    threads: { type: 'string' },
    'no-compare': { type: 'boolean', default: false },
    'drop-caches': { type: 'boolean', default: false },
    /** Keep the dataset of an earlier run in --dir. */
    reuse: { type: 'boolean', default: false },
    /** CPU profiles of our runs (main thread and workers) into <dir>/profiles. */
    profile: { type: 'boolean', default: false },
    /** Internal: run only our data plane and print the rows as JSON (a fresh process: honest RSS). */
    phase: { type: 'string' },
  },
});

const sizeBytes = Number(args['size-mib']) * MiB;
const dir = args.dir!;
const repeat = Math.max(1, Number(args.repeat));

interface Row {
  what: string;
  seconds: number;
  /** User + system CPU seconds (all threads; for borg/restic their process): robust to a busy machine. */
  cpuSeconds?: number;
  storedBytes?: number;
  readBytes?: number;
  peakRssMiB?: number;
  /** The wall seconds of every run (aggregated rows). */
  samples?: string;
}
const rows: Row[] = [];

/** Times `fn` and samples this process's RSS while it runs. */
async function measure<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; seconds: number; cpuSeconds: number; peakRssMiB: number }> {
  await dropCaches();
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  try {
    const result = await fn();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, seconds, cpuSeconds: (used.user + used.system) / 1e6, peakRssMiB: peak / MiB };
  } finally {
    clearInterval(timer);
  }
}

async function dropCaches() {
  if (!args['drop-caches']) return;
  await run('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

/** Runs a command under /usr/bin/time: wall and CPU seconds. */
async function timed(
  command: string,
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ seconds: number; cpuSeconds: number }> {
  await dropCaches();
  const started = process.hrtime.bigint();
  const { stderr } = await run('/usr/bin/time', ['-f', 'TIME %U %S', command, ...argv], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * MiB,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const match = /TIME ([\d.]+) ([\d.]+)/.exec(stderr);
  return { seconds, cpuSeconds: match ? Number(match[1]) + Number(match[2]) : Number.NaN };
}

async function du(target: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', target]);
  return Number(stdout.split(/\s/)[0]);
}

async function has(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const lab = new FileVolumeLab(path.join(dir, 'volumes'));
  if (args.phase === 'ours') {
    await runOurs(lab);
    console.log(`ROWS ${JSON.stringify(rows)}`);
    return;
  }
  const datasetOf = async () => {
    try {
      return (await readFile(path.join(dir, 'dataset.txt'), 'utf8')).trim();
    } catch {
      return null;
    }
  };
  if (!(args.reuse && (await exists(lab.snapshotPath('s1'))) && (await datasetOf()) === args.text)) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    console.log(`building the dataset (${sizeBytes / MiB} MiB) in ${dir} ...`);
    await lab.createVolume('bench', sizeBytes);
    const text = args.text === 'varied' ? 'varied' : 'repetitive';
    await writeBenchmarkDataset(lab, 'bench', sizeBytes, { text });
    await writeFile(path.join(dir, 'dataset.txt'), `${text}\n`);
    await lab.snapshot('bench', 's0');
    const changes = await writeRandomChanges(lab, 'bench', sizeBytes);
    await lab.snapshot('bench', 's1');
    console.log(`1% change: ${changes.length} writes, ${changes.reduce((n, e) => n + e.length, 0)} bytes`);
  }
  // Our runs in a fresh process, so that its peak RSS is the data plane's, not the dataset builder's.
  const profile = args.profile ? ['--cpu-prof', '--cpu-prof-dir', path.join(dir, 'profiles')] : [];
  const argv = [
    ...profile,
    ...process.execArgv,
    process.argv[1]!,
    ...process.argv.slice(2),
    '--phase',
    'ours',
  ];
  const child = await run(process.execPath, argv, { maxBuffer: 64 * MiB });
  process.stdout.write(child.stdout.replace(/^ROWS .*$/m, ''));
  const line = child.stdout.split('\n').find((l) => l.startsWith('ROWS '));
  if (!line) throw new Error('the data plane run printed no results');
  rows.push(...(JSON.parse(line.slice(5)) as Row[]));
  if (!args['no-compare']) await compare(lab);
  printTable();
}

async function runOurs(lab: FileVolumeLab) {
  const pg = await startEphemeralPostgres({});
  const dbUrl = withDatabase(pg.url, 'bench');
  await createDatabaseIfMissing(pg.url, 'bench');
  await applyPendingMigrations(dbUrl);
  const prisma = createPrismaClient(dbUrl);
  const threads = args.threads ? Number(args.threads) : undefined;
  const plane = createDataPlane({ prisma, ...(threads ? { threads } : {}) });
  const driver = createFileStorageDriver({ dir: lab.dir });
  const repoUrl = (name: string) => pathToFileURL(path.join(dir, 'repos', name)).href;
  await rm(path.join(dir, 'repos'), { recursive: true, force: true });

  const backup = async (
    repository: Repository,
    backupId: string,
    snapshotId: string,
    parent?: { backupId: string; snapshotId: string | null },
  ) => {
    const source = await driver.openSnapshot({ volumeId: 'bench', snapshotId });
    try {
      return await plane.backup({
        repository,
        backupId,
        volumeId: 'bench',
        source,
        ...(parent ? { parent } : {}),
      });
    } finally {
      await source.close();
    }
  };

  try {
    // Warm-up: start the worker pool and the database connections (a running service has both).
    await lab.createVolume('warm', 8 * MiB);
    await lab.write('warm', 0, Buffer.alloc(4 * MiB, 7));
    await lab.snapshot('warm', 'w0');
    const warm = await plane.openRepository(repoUrl('warm'));
    const warmSource = await driver.openSnapshot({ volumeId: 'warm', snapshotId: 'w0' });
    await plane.backup({ repository: warm, backupId: 'warm', volumeId: 'warm', source: warmSource });
    await warmSource.close();
    console.log(`RSS after start-up: ${(process.memoryUsage.rss() / MiB).toFixed(0)} MiB`);
    const expected = await sha256OfFile(lab.snapshotPath('s1'));

    for (let rep = 0; rep < repeat; rep++) {
      const repoA = await plane.openRepository(repoUrl(`a${rep}`));
      const repoB = await plane.openRepository(repoUrl(`b${rep}`));

      const full = await measure(() => backup(repoA, 'full', 's0'));
      rows.push({
        what: 'ours: full backup',
        ...pick(full),
        storedBytes: full.result.storedBytes,
        readBytes: full.result.readBytes,
      });

      const cbt = await measure(() =>
        backup(repoA, 'incr-cbt', 's1', { backupId: 'full', snapshotId: 's0' }),
      );
      if (!cbt.result.incremental) throw new Error('the CBT incremental did not use change tracking');
      rows.push({
        what: 'ours: incremental (CBT)',
        ...pick(cbt),
        storedBytes: cbt.result.storedBytes,
        readBytes: cbt.result.readBytes,
      });

      await backup(repoB, 'full', 's0');
      const fullRead = await measure(() =>
        backup(repoB, 'incr-read', 's1', { backupId: 'full', snapshotId: null }),
      );
      rows.push({
        what: 'ours: incremental (full read)',
        ...pick(fullRead),
        storedBytes: fullRead.result.storedBytes,
        readBytes: fullRead.result.readBytes,
      });

      const restored = await measure(async () => {
        const target = await driver.openForRestore({ volumeId: 'restored', sizeBytes });
        const result = await plane.restore({ repository: repoA, backupId: 'incr-cbt', target });
        await target.finish();
        return result;
      });
      rows.push({ what: 'ours: restore (incl. fsync)', ...pick(restored) });
      if ((await sha256OfFile(lab.volumePath('restored'))) !== expected)
        throw new Error('restore is not byte-identical');
      const mem = process.memoryUsage();
      console.log(
        `run ${rep + 1}/${repeat}: full ${full.seconds.toFixed(2)} s, restore ${restored.seconds.toFixed(2)} s ` +
          `(byte-identical); RSS ${(mem.rss / MiB).toFixed(0)} MiB, array buffers ${(mem.arrayBuffers / MiB).toFixed(0)} MiB`,
      );
    }
  } finally {
    await plane.close();
    await prisma.$disconnect();
    await pg.stop();
  }
}

function pick(m: { seconds: number; cpuSeconds: number; peakRssMiB: number }) {
  return { seconds: m.seconds, cpuSeconds: m.cpuSeconds, peakRssMiB: m.peakRssMiB };
}

async function compare(lab: FileVolumeLab) {
  // Both tools back up one path: the volume image at s0, then the same path holding s1.
  const data = path.join(dir, 'data');
  await mkdir(data, { recursive: true });
  const image = path.join(data, 'volume.img');
  const borg = await has('borg');
  const restic = await has('restic');
  if (!borg) console.log('borg not installed: skipped (apt-get install -y borgbackup)');
  if (!restic) console.log('restic not installed: skipped (apt-get install -y restic)');
  for (let rep = 0; rep < repeat; rep++) {
    if (borg) {
      const repo = path.join(dir, 'borg');
      await rm(repo, { recursive: true, force: true });
      const env = {
        BORG_PASSPHRASE: '',
        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
        BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
        BORG_BASE_DIR: path.join(dir, 'borg-home'),
      };
      await rm(env.BORG_BASE_DIR, { recursive: true, force: true });
      await sparseCopy(lab.snapshotPath('s0'), image);
      await run('borg', ['init', '--encryption=none', repo], { env: { ...process.env, ...env } });
      const full = await timed('borg', ['create', '-C', 'lz4', `${repo}::full`, image], env);
      const afterFull = await du(repo);
      rows.push({ what: 'borg: full backup (-C lz4)', ...full, storedBytes: afterFull });
      await sparseCopy(lab.snapshotPath('s1'), image);
      const incr = await timed('borg', ['create', '-C', 'lz4', `${repo}::incr`, image], env);
      rows.push({ what: 'borg: incremental', ...incr, storedBytes: (await du(repo)) - afterFull });
    }
    if (restic) {
      const repo = path.join(dir, 'restic');
      await rm(repo, { recursive: true, force: true });
      const env = {
        RESTIC_PASSWORD: 'x',
        RESTIC_REPOSITORY: repo,
        RESTIC_CACHE_DIR: path.join(dir, 'restic-cache'),
      };
      await rm(env.RESTIC_CACHE_DIR, { recursive: true, force: true });
      await sparseCopy(lab.snapshotPath('s0'), image);
      await run('restic', ['init'], { env: { ...process.env, ...env } });
      const full = await timed('restic', ['backup', '--quiet', image], env);
      const afterFull = await du(repo);
      rows.push({ what: 'restic: full backup', ...full, storedBytes: afterFull });
      await sparseCopy(lab.snapshotPath('s1'), image);
      const incr = await timed('restic', ['backup', '--quiet', image], env);
      rows.push({ what: 'restic: incremental', ...incr, storedBytes: (await du(repo)) - afterFull });
      const target = path.join(dir, 'restic-restore');
      await rm(target, { recursive: true, force: true });
      const restore = await timed('restic', ['restore', 'latest', '--target', target], env);
      rows.push({ what: 'restic: restore', ...restore });
      if ((await stat(path.join(target, image))).size !== sizeBytes)
        throw new Error('restic restore has the wrong size');
    }
  }
}

/** Per run name: the fastest sample (wall and CPU separately), stored/read bytes, the largest RSS. */
function aggregate(): Row[] {
  const byName = new Map<string, Row[]>();
  for (const row of rows) byName.set(row.what, [...(byName.get(row.what) ?? []), row]);
  return [...byName.entries()].map(([what, samples]) => {
    const min = (key: 'seconds' | 'cpuSeconds') => {
      const values = samples
        .map((s) => s[key])
        .filter((v): v is number => v !== undefined && !Number.isNaN(v));
      return values.length > 0 ? Math.min(...values) : undefined;
    };
    const rss = samples.map((s) => s.peakRssMiB).filter((v): v is number => v !== undefined);
    return {
      what,
      seconds: min('seconds')!,
      cpuSeconds: min('cpuSeconds'),
      storedBytes: samples[0]?.storedBytes,
      readBytes: samples[0]?.readBytes,
      peakRssMiB: rss.length > 0 ? Math.max(...rss) : undefined,
      samples: samples.map((s) => s.seconds.toFixed(2)).join(' '),
    };
  });
}

function printTable() {
  const table = aggregate();
  const fmt = (n: number | undefined, unit: 'MiB' | 's') =>
    n === undefined ? '' : unit === 's' ? n.toFixed(2) : (n / MiB).toFixed(1);
  console.log('');
  console.log(`dataset: ${sizeBytes / MiB} MiB, text ${args.text}; best of ${repeat} runs`);
  console.log('| run | seconds | CPU seconds | stored MiB | read MiB | peak RSS MiB | all runs (s) |');
  console.log('|---|---:|---:|---:|---:|---:|---|');
  for (const r of table) {
    console.log(
      `| ${r.what} | ${fmt(r.seconds, 's')} | ${fmt(r.cpuSeconds, 's')} | ${fmt(r.storedBytes, 'MiB')} | ` +
        `${fmt(r.readBytes, 'MiB')} | ${r.peakRssMiB === undefined ? '' : r.peakRssMiB.toFixed(0)} | ${r.samples} |`,
    );
  }
  const get = (what: string) => table.find((r) => r.what.startsWith(what));
  const ratio = (a: Row | undefined, b: Row | undefined, key: 'seconds' | 'cpuSeconds' | 'storedBytes') =>
    a?.[key] !== undefined && b?.[key] ? (a[key]! / b[key]!).toFixed(3) : 'n/a';
  const both = (a: Row | undefined, b: Row | undefined) =>
    `${ratio(a, b, 'seconds')} | ${ratio(a, b, 'cpuSeconds')}`;
  const ours = {
    full: get('ours: full'),
    cbt: get('ours: incremental (CBT)'),
    restore: get('ours: restore'),
  };
  const borg = { full: get('borg: full') };
  const restic = {
    full: get('restic: full'),
    incr: get('restic: incremental'),
    restore: get('restic: restore'),
  };
  console.log('');
  console.log('| target | ratio (wall) | ratio (CPU) | goal |');
  console.log('|---|---:|---:|---|');
  console.log(`| full backup / borg full | ${both(ours.full, borg.full)} | <= 0.5 |`);
  console.log(`| full backup / restic full | ${both(ours.full, restic.full)} | <= 0.25 |`);
  console.log(`| incremental (CBT) / restic incremental | ${both(ours.cbt, restic.incr)} | <= 0.1 |`);
  console.log(
    `| incremental stored / restic added | ${ratio(ours.cbt, restic.incr, 'storedBytes')} | | <= 1 |`,
  );
  console.log(
    `| incremental stored / our full stored | ${ratio(ours.cbt, ours.full, 'storedBytes')} | | < 0.05 |`,
  );
  console.log(`| restore / restic restore | ${both(ours.restore, restic.restore)} | <= 0.5 |`);
  const peak = Math.max(...table.map((r) => r.peakRssMiB ?? 0));
  console.log(`| our peak RSS (MiB) | ${peak.toFixed(0)} | | < 512 |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
