import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { procCpuSeconds } from './service.js';

const run = promisify(execFile);

export async function duBytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split('\t')[0]);
}

/** Wall and CPU seconds (user + system, all threads) of one run of a command. */
async function timed(command: string, args: string[], env: Record<string, string> = {}) {
  const cpuBefore = procCpuSeconds('self', true);
  const started = performance.now();
  await run(command, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, cpuSeconds: Math.round((procCpuSeconds('self', true) - cpuBefore) * 100) / 100 };
}

/** A peer backing up the same file: init once, then back up (full, then incremental) and restore. */
export interface Peer {
  name: string;
  init(): Promise<void>;
  backup(file: string): Promise<{ seconds: number; cpuSeconds: number; storedBytes: number }>;
  restore?(target: string): Promise<{ seconds: number; cpuSeconds: number }>;
}

export function restic(dir: string): Peer {
  const repo = path.join(dir, 'restic-repo');
  const env = {
    RESTIC_PASSWORD: 'bench',
    RESTIC_REPOSITORY: repo,
    RESTIC_CACHE_DIR: path.join(dir, 'restic-cache'),
  };
  return {
    name: 'restic',
    async init() {
      await rm(repo, { recursive: true, force: true });
      await timed('restic', ['init', '--repository-version', '2'], env);
    },
    async backup(file) {
      const before = await duBytes(repo);
      const time = await timed('restic', ['backup', '--quiet', '--compression', 'auto', file], env);
      return { ...time, storedBytes: (await duBytes(repo)) - before };
    },
    async restore(target) {
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      return timed('restic', ['restore', 'latest', '--target', target], env);
    },
  };
}

export function borg(dir: string): Peer {
  const repo = path.join(dir, 'borg-repo');
  const env = {
    BORG_PASSPHRASE: '',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_BASE_DIR: path.join(dir, 'borg-base'),
  };
  let n = 0;
  return {
    name: 'borg',
    async init() {
      await rm(repo, { recursive: true, force: true });
      await timed('borg', ['init', '--encryption=none', repo], env);
    },
    async backup(file) {
      const before = await duBytes(repo);
      const time = await timed('borg', ['create', '-C', 'lz4', `${repo}::b${n++}`, file], env);
      return { ...time, storedBytes: (await duBytes(repo)) - before };
    },
  };
}
