import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningService, type StartOptions, startService } from '@backup-service/app';
import { type Simulator, startSimulator } from '@backup-service/openstack-sim';
import { type Config, createLogger, loadConfig } from '@backup-service/server';
import { createTestDatabase, type TestDatabase } from './database.js';

export type UserName = 'admin' | 'demo' | 'alt_demo' | 'reader';

export interface Stack {
  sim: Simulator;
  service: RunningService;
  db: TestDatabase;
  /** Base URL of the service's API (…/v1 is the contract). */
  url: string;
  repositoryDir: string;
  token(user: UserName): Promise<string>;
  /** A request to the service's /v1 with a user's token. */
  v1(
    user: UserName | null,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<V1Response>;
  cinder: SimCinder;
  close(): Promise<void>;
}

export interface V1Response {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export interface StackOptions extends StartOptions {
  env?: Record<string, string>;
}

/**
 * The simulator, a fresh database and the service running in this process against them: the same
 * wiring as production (OS_AUTH_URL, FILE_DRIVER_DIR, REPOSITORY_URL), not the embedded default.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'bs-stack-'));
  const sim = await startSimulator({ stateDir: path.join(base, 'sim'), transitionDelayMs: 20 });
  const db = await createTestDatabase();
  const repositoryDir = path.join(base, 'repository');
  const config: Config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: db.url,
    DATA_DIR: base,
    OS_AUTH_URL: sim.urls.keystone,
    OS_USERNAME: sim.serviceUser.name,
    OS_PASSWORD: sim.serviceUser.password,
    OS_PROJECT_NAME: sim.serviceUser.project,
    FILE_DRIVER_DIR: sim.volumesDir,
    REPOSITORY_URL: `file://${repositoryDir}`,
    JOB_POLL_MS: '50',
    JOB_LEASE_MS: '10000',
    OPENSTACK_TIMEOUT_MS: '5000',
    DATAPLANE_THREADS: '2',
    ...options.env,
  });
  const service = await startService(config, {
    openStackPollMs: 20,
    logger: createLogger(config.LOG_LEVEL),
    ...options,
  });
  const tokens = new Map<UserName, string>();
  const token = async (user: UserName) => {
    const cached = tokens.get(user);
    if (cached) return cached;
    const issued = await issueToken(sim.urls.keystone, user, user === 'reader' ? 'demo' : user);
    tokens.set(user, issued);
    return issued;
  };
  const v1: Stack['v1'] = async (user, method, requestPath, body, headers = {}) => {
    const response = await fetch(`${service.url}/v1${requestPath}`, {
      method,
      headers: {
        ...(user ? { 'x-auth-token': await token(user) } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {}
    return { status: response.status, headers: response.headers, body: parsed, text };
  };
  return {
    sim,
    service,
    db,
    url: service.url,
    repositoryDir,
    token,
    v1,
    cinder: new SimCinder(sim, token),
    async close() {
      await service.close();
      await sim.close();
      await db.drop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

export async function issueToken(keystoneUrl: string, user: string, project: string): Promise<string> {
  const response = await fetch(`${keystoneUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password: user } },
        },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    }),
  });
  if (response.status !== 201)
    throw new Error(`token for ${user}: ${response.status} ${await response.text()}`);
  return response.headers.get('x-subject-token') ?? '';
}

/** Direct calls to the simulated Cinder (as a user would make them) and its data API. */
export class SimCinder {
  constructor(
    private readonly sim: Simulator,
    private readonly token: (user: UserName) => Promise<string>,
  ) {}

  private project(user: UserName) {
    return this.sim.projects[user === 'reader' ? 'demo' : user].id;
  }

  async request(user: UserName, method: string, requestPath: string, body?: unknown) {
    const response = await fetch(`${this.sim.urls.cinder}/v3/${this.project(user)}${requestPath}`, {
      method,
      headers: { 'x-auth-token': await this.token(user), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  async createVolume(
    user: UserName,
    sizeGb: number,
    name = `vol-${randomBytes(3).toString('hex')}`,
  ): Promise<string> {
    const { status, body } = await this.request(user, 'POST', '/volumes', { volume: { size: sizeGb, name } });
    if (status !== 202) throw new Error(`create volume: ${status} ${JSON.stringify(body)}`);
    await this.waitVolume(user, body.volume.id, 'available');
    return body.volume.id;
  }

  async volume(user: UserName, id: string) {
    return (await this.request(user, 'GET', `/volumes/${id}`)).body?.volume;
  }

  async waitVolume(user: UserName, id: string, status: string, timeoutMs = 60_000) {
    return waitFor(
      `volume ${id} ${status}`,
      async () => {
        const volume = await this.volume(user, id);
        if (volume?.status === 'error' && status !== 'error') throw new Error(`volume ${id} went to error`);
        return volume?.status === status ? volume : undefined;
      },
      timeoutMs,
    );
  }

  async createSnapshot(user: UserName, volumeId: string, force = false): Promise<string> {
    const { status, body } = await this.request(user, 'POST', '/snapshots', {
      snapshot: { volume_id: volumeId, name: `snap-${randomBytes(3).toString('hex')}`, force },
    });
    if (status !== 202) throw new Error(`create snapshot: ${status} ${JSON.stringify(body)}`);
    await waitFor(`snapshot ${body.snapshot.id}`, async () => {
      const snapshot = (await this.request(user, 'GET', `/snapshots/${body.snapshot.id}`)).body?.snapshot;
      return snapshot?.status === 'available' ? snapshot : undefined;
    });
    return body.snapshot.id;
  }

  /** Writes bytes into a volume as a guest would (the simulator's data API). */
  async write(volumeId: string, offset: number, data: Buffer) {
    const response = await fetch(`${this.sim.urls.cinder}/_sim/volumes/${volumeId}/data?offset=${offset}`, {
      method: 'PUT',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (response.status >= 300) throw new Error(`write: ${response.status} ${await response.text()}`);
  }

  async sha256(volumeId: string): Promise<string> {
    const response = await fetch(`${this.sim.urls.cinder}/_sim/volumes/${volumeId}/sha256`);
    return ((await response.json()) as { sha256: string }).sha256;
  }
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Polls a backup through /v1 until it reaches one of `statuses`. */
export async function waitForBackup(
  stack: Stack,
  user: UserName,
  id: string,
  statuses: string[] = ['available'],
  timeoutMs = 120_000,
) {
  return waitFor(
    `backup ${id} to be ${statuses.join('/')}`,
    async () => {
      const { body, status } = await stack.v1(user, 'GET', `/volume/backup/${id}`);
      if (status === 200 && statuses.includes(body.backup.status)) return body.backup;
      if (status === 200 && body.backup.status === 'error' && !statuses.includes('error')) {
        throw new Error(`backup ${id} failed: ${body.backup.fail_reason}`);
      }
      return undefined;
    },
    timeoutMs,
  );
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
