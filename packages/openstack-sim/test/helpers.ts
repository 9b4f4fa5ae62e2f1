import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { type Simulator, type SimulatorOptions, startSimulator } from '../src/index.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SAMPLES_DIR = resolve(REPO_ROOT, '../shared/openstack-api-samples');

export async function startTestSim(opts: SimulatorOptions = {}): Promise<Simulator> {
  return startSimulator({ transitionDelayMs: 30, ...opts });
}

/** JSON bodies in tests are read loosely; the contract test checks their shape. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are arbitrary JSON
export type Json = any;

export interface HttpResult<T = Json> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One HTTP call; JSON in, JSON (or text) out. */
export async function call<T = Json>(
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; raw?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers['x-auth-token'] = opts.token;
  let body: string | Buffer | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.body);
  } else if (opts.raw !== undefined) {
    headers['content-type'] ??= 'application/octet-stream';
    body = opts.raw;
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** A project-scoped token for `user` (password = name) on `project` (default: the user's own). */
export async function login(sim: Simulator, user: string, project?: string): Promise<string> {
  const projectName =
    project ?? ({ reader: 'demo', backup: 'service' } as Record<string, string>)[user] ?? user;
  const r = await call('POST', `${sim.urls.keystone}/auth/tokens`, {
    body: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password: user } },
        },
        scope: { project: { name: projectName, domain: { id: 'default' } } },
      },
    },
  });
  expect(r.status).toBe(201);
  return r.headers.get('x-subject-token')!;
}

/** Polls `fn` until `pred` holds; returns every value seen (so tests can assert on intermediate states). */
export async function waitFor<T>(
  fn: () => Promise<T>,
  pred: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    seen.push(v);
    if (pred(v)) return seen;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Cinder/Nova helpers bound to one token. */
export function clients(sim: Simulator, token: string, projectId: string) {
  const cinderBase = `${sim.urls.cinder}/v3/${projectId}`;
  return {
    cinder: (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      call(method, `${cinderBase}${path}`, { token, body, headers }),
    nova: (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      call(method, `${sim.urls.nova}${path}`, { token, body, headers }),
    glance: (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      call(method, `${sim.urls.glance}${path}`, { token, body, headers }),
    async volume(id: string) {
      return (await call('GET', `${cinderBase}/volumes/${id}`, { token })).body?.volume;
    },
    async snapshot(id: string) {
      return (await call('GET', `${cinderBase}/snapshots/${id}`, { token })).body?.snapshot;
    },
    async server(id: string, mv = '2.1') {
      return (
        await call('GET', `${sim.urls.nova}/servers/${id}`, {
          token,
          headers: { 'openstack-api-version': `compute ${mv}` },
        })
      ).body?.server;
    },
    /** Creates a volume and waits until it is available. */
    async createVolume(size = 1, extra: Record<string, unknown> = {}) {
      const r = await call('POST', `${cinderBase}/volumes`, { token, body: { volume: { size, ...extra } } });
      expect(r.status, r.text).toBe(202);
      const id = r.body.volume.id as string;
      await waitFor(
        async () => (await call('GET', `${cinderBase}/volumes/${id}`, { token })).body?.volume?.status,
        (s) => s === 'available',
      );
      return id;
    },
    async createSnapshot(volumeId: string, extra: Record<string, unknown> = {}) {
      const r = await call('POST', `${cinderBase}/snapshots`, {
        token,
        body: { snapshot: { volume_id: volumeId, ...extra } },
      });
      expect(r.status, r.text).toBe(202);
      const id = r.body.snapshot.id as string;
      await waitFor(
        async () => (await call('GET', `${cinderBase}/snapshots/${id}`, { token })).body?.snapshot?.status,
        (s) => s === 'available',
      );
      return id;
    },
    async waitVolume(id: string, status: string) {
      return waitFor(
        async () => (await call('GET', `${cinderBase}/volumes/${id}`, { token })).body?.volume?.status,
        (s) => s === status,
      );
    },
    async waitServer(id: string, status: string, taskStateNull = true) {
      return waitFor(
        async () => (await call('GET', `${sim.urls.nova}/servers/${id}`, { token })).body?.server,
        (s) => s?.status === status && (!taskStateNull || s['OS-EXT-STS:task_state'] === null),
      );
    },
  };
}

export const dataUrl = (sim: Simulator, volumeId: string) => `${sim.urls.cinder}/_sim/volumes/${volumeId}`;

export function samplesPresent(): boolean {
  return existsSync(SAMPLES_DIR);
}
