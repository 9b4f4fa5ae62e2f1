import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

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

/**
 * A port nobody listens on, below the kernel's ephemeral range: a port the kernel handed out with
 * listen(0) can be taken by any outgoing connection between our check and the service's own
 * listen (EADDRINUSE in a busy parallel run), one below the range only by another listener.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  const high = Math.min(ephemeralLow ?? 32768, 32768);
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (high - 10_000));
    if (await canListen(port)) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
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
