import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../packages/server/src/free-port.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BenchService {
  url: string;
  simPorts: { keystone: number; cinder: number; nova: number; glance: number };
  /** Largest resident set size seen so far (MiB), sampled every 50 ms, plus the kernel's high-water mark. */
  peakRssMiB(): number;
  /** Largest RSS sampled since the last call (MiB): the peak of one phase. */
  phasePeakRssMiB(): number;
  /** CPU seconds (user + system, all threads) used so far by the service, the simulator and PostgreSQL. */
  cpuSeconds(): CpuSeconds;
  stop(): Promise<void>;
}

export interface CpuSeconds {
  service: number;
  simulator: number;
  /** The PostgreSQL processes running now (the server and its connections' backends). */
  postgres: number;
}

export function cpuSince(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    service: round(after.service - before.service),
    simulator: round(after.simulator - before.simulator),
    postgres: round(after.postgres - before.postgres),
  };
}

/**
 * The service as `pnpm start` runs it, in a child process of its own, so that its memory is its own,
 * beside the OpenStack simulator in another process, as OpenStack is beside it in production: the
 * simulator's work (the guest's writes that build the dataset, Cinder's API) is not counted as ours.
 * The embedded PostgreSQL is a separate process: not in the service's RSS or CPU (cpuSeconds() gives
 * PostgreSQL's apart).
 */
export async function startBenchService(
  dataDir: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<BenchService> {
  const port = await freePort();
  const simPorts = {
    keystone: await freePort(),
    cinder: await freePort(),
    nova: await freePort(),
    glance: await freePort(),
  };
  const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
  const simStateDir = path.join(dataDir, 'sim');
  const sim = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'packages/openstack-sim/src/main.ts',
      '--state-dir',
      simStateDir,
      ...Object.entries(simPorts).flatMap(([name, simPort]) => [`--${name}-port`, String(simPort)]),
    ],
    { cwd: repoRoot, env: baseEnv, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let simErrors = '';
  sim.stderr?.on('data', (c: Buffer) => {
    simErrors = (simErrors + c.toString()).slice(-20_000);
  });
  await waitForUrl(`http://127.0.0.1:${simPorts.keystone}/v3`, () =>
    sim.exitCode !== null ? `simulator exited during start-up:\n${simErrors}` : null,
  );
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'packages/app/src/main.ts'],
    {
      cwd: repoRoot,
      env: {
        ...baseEnv,
        LOG_LEVEL: 'warn',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        GATEWAY_PORT: '0',
        OS_AUTH_URL: `http://127.0.0.1:${simPorts.keystone}/v3`,
        OS_USERNAME: 'backup',
        OS_PASSWORD: 'backup',
        OS_PROJECT_NAME: 'service',
        FILE_DRIVER_DIR: path.join(simStateDir, 'volumes'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  });
  child.stderr?.on('data', (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  });
  let peak = 0;
  let phasePeak = 0;
  const sampler = setInterval(() => {
    const rss = rssMiB(child.pid);
    peak = Math.max(peak, rss);
    phasePeak = Math.max(phasePeak, rss);
  }, 50);
  const url = `http://127.0.0.1:${port}`;
  await waitForUrl(`${url}/readyz`, () =>
    child.exitCode !== null ? `service exited during start-up:\n${output}` : null,
  ).catch((error: unknown) => {
    sim.kill('SIGTERM');
    throw error;
  });
  return {
    url,
    simPorts,
    peakRssMiB: () => Math.max(peak, highWaterMiB(child.pid)),
    cpuSeconds: () => ({
      service: procCpuSeconds(child.pid),
      simulator: procCpuSeconds(sim.pid),
      postgres: postgresCpuSeconds(),
    }),
    phasePeakRssMiB: () => {
      const value = Math.max(phasePeak, rssMiB(child.pid));
      phasePeak = 0;
      return value;
    },
    async stop() {
      clearInterval(sampler);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      sim.kill('SIGTERM');
      await new Promise((resolve) => sim.once('exit', resolve));
    },
  };
}

/** Until `url` answers 200; `failed()` names why to give up early (the process died). */
async function waitForUrl(url: string, failed: () => string | null): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const reason = failed();
    if (reason) throw new Error(reason);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer in 120 s`);
    await sleep(100);
  }
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU seconds from /proc/<pid>/stat: its own (utime + stime, fields 14–15) or, with `children`, that
 * of its children it has waited for (cutime + cstime, fields 16–17). 0 when the process is gone.
 */
export function procCpuSeconds(pid: number | 'self' | undefined, children = false): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const at = children ? 13 : 11; // counted from field 3, after the command's closing paren
    return (Number(fields[at]) + Number(fields[at + 1])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // With what its exited children used (the postmaster reaps finished backends): otherwise a
      // backend that ends during a measurement takes its CPU time out of the sum.
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres')
        total += procCpuSeconds(Number(entry)) + procCpuSeconds(Number(entry), true);
    } catch {}
  }
  return total;
}

function rssMiB(pid: number | undefined): number {
  return statusField(pid, 'VmRSS');
}

function highWaterMiB(pid: number | undefined): number {
  return statusField(pid, 'VmHWM');
}

function statusField(pid: number | undefined, field: string): number {
  if (!pid) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
