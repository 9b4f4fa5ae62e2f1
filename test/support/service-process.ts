import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../packages/server/src/free-port.js';

export { freePort };

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

/** SIGKILLs whatever a failed test left running (call from afterEach/afterAll). */
export function killLeftoverServices() {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Runs `pnpm start`'s entry point as a real child process with the given environment. */
export function spawnService(
  env: Record<string, string>,
  entry = 'packages/app/src/main.ts',
): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    url: `http://127.0.0.1:${env.PORT ?? 8110}`,
    output: () => output,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}

/** Polls until `GET url` answers 200 or the process exits. */
export async function waitUntilHealthy(service: ServiceProcess, timeoutMs = 60_000): Promise<void> {
  let exited = false;
  void service.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`service exited before it was healthy:\n${service.output()}`);
    try {
      const response = await fetch(`${service.url}/healthz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`service not healthy after ${timeoutMs} ms:\n${service.output()}`);
}

/** The built-in simulator and gateway on free ports: never colliding with `pnpm start` or a real rig. */
export async function simulatorPorts(): Promise<Record<string, string>> {
  return {
    GATEWAY_PORT: String(await freePort()),
    SIM_KEYSTONE_PORT: String(await freePort()),
    SIM_CINDER_PORT: String(await freePort()),
    SIM_NOVA_PORT: String(await freePort()),
    SIM_GLANCE_PORT: String(await freePort()),
  };
}
