import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface BenchService {
  url: string;
  simPorts: { keystone: number; cinder: number; nova: number; glance: number };
  /** Largest resident set size seen so far (MiB), sampled every 50 ms, plus the kernel's high-water mark. */
  peakRssMiB(): number;
  /** Largest RSS sampled since the last call (MiB): the peak of one phase. */
  phasePeakRssMiB(): number;
  stop(): Promise<void>;
}

/**
 * The service as `pnpm start` runs it, in a child process of its own, so that its memory is its own
 * (the embedded PostgreSQL is a separate process and not counted). Its built-in simulator is used.
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
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'packages/app/src/main.ts'],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        LOG_LEVEL: 'warn',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        GATEWAY_PORT: '0',
        SIM_KEYSTONE_PORT: String(simPorts.keystone),
        SIM_CINDER_PORT: String(simPorts.cinder),
        SIM_NOVA_PORT: String(simPorts.nova),
        SIM_GLANCE_PORT: String(simPorts.glance),
        JOB_POLL_MS: '50',
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
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited during start-up:\n${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`service not ready:\n${output}`);
    await sleep(100);
  }
  return {
    url,
    simPorts,
    peakRssMiB: () => Math.max(peak, highWaterMiB(child.pid)),
    phasePeakRssMiB: () => {
      const value = Math.max(phasePeak, rssMiB(child.pid));
      phasePeak = 0;
      return value;
    },
    async stop() {
      clearInterval(sampler);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
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
