import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningService, type StartOptions, startService } from '@backup-service/app';
import { type Simulator, startSimulator } from '@backup-service/openstack-sim';
import { type Config, createLogger, loadConfig } from '@backup-service/server';
import { createTestDatabase, type TestDatabase } from './database.js';
import {
  noSimulator,
  type OpenStackTarget,
  openStackUnderTest,
  realOpenStack,
  simulatorTarget,
} from './openstack-target.js';
import { type TestRepository, testRepository } from './repository.js';

export type UserName = 'admin' | 'demo' | 'alt_demo' | 'reader';

export interface Stack {
  /** The simulator (against a real cloud, TEST_OPENSTACK: a stand-in that throws when used). */
  sim: Simulator;
  /** The OpenStack under test: the simulator or a real cloud (see openstack-target.ts). */
  openstack: OpenStackTarget;
  service: RunningService;
  db: TestDatabase;
  /** Base URL of the service's API (…/v1 is the contract). */
  url: string;
  /** The `file` repository's directory (TEST_REPOSITORY=file). */
  repositoryDir: string;
  /** The repository of the backend TEST_REPOSITORY selects (its URL is REPOSITORY_URL). */
  repository: TestRepository;
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
  /** Reuse this simulator (and leave it running on close). */
  sim?: Simulator;
  /** Reuse this repository (and leave it on close). */
  repository?: TestRepository;
  /** Reuse this database (and leave it on close). */
  db?: TestDatabase;
}

/**
 * The simulator, a fresh database and the service running in this process against them: the same
 * wiring as production (OS_AUTH_URL, FILE_DRIVER_DIR, REPOSITORY_URL), not the embedded default.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'bs-stack-'));
  const startedAt = new Date(Date.now() - 1000);
  const real = openStackUnderTest === 'openstack' ? await realOpenStack() : null;
  const sim = real
    ? noSimulator()
    : (options.sim ?? (await startSimulator({ stateDir: path.join(base, 'sim'), transitionDelayMs: 20 })));
  const target = real ?? simulatorTarget(sim);
  const db = options.db ?? (await createTestDatabase());
  const repositoryDir = path.join(base, 'repository');
  const repository = options.repository ?? testRepository(repositoryDir);
  const config: Config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: db.url,
    DATA_DIR: base,
    ...(real
      ? real.serviceEnv
      : {
          OS_AUTH_URL: sim.urls.keystone,
          OS_USERNAME: sim.serviceUser.name,
          OS_PASSWORD: sim.serviceUser.password,
          OS_PROJECT_NAME: sim.serviceUser.project,
          FILE_DRIVER_DIR: sim.volumesDir,
        }),
    REPOSITORY_URL: repository.url,
    ...repository.env,
    JOB_POLL_MS: '50',
    JOB_LEASE_MS: '10000',
    OPENSTACK_TIMEOUT_MS: '5000',
    DATAPLANE_THREADS: '2',
    GATEWAY_PORT: '0',
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
    const issued = await issueToken(target.urls.keystone, user, user === 'reader' ? 'demo' : user);
    tokens.set(user, issued);
    return issued;
  };
  const v1: Stack['v1'] = (user, method, requestPath, body, headers = {}) =>
    v1Request(service.url, user ? token(user) : undefined, method, requestPath, body, headers);
  return {
    sim,
    openstack: target,
    service,
    db,
    url: service.url,
    repositoryDir,
    repository,
    token,
    v1,
    cinder: new SimCinder(target, token),
    async close() {
      await service.close();
      if (!options.sim && !real) await sim.close();
      await real?.cleanup(startedAt);
      if (!options.db) await db.drop();
      if (!options.repository) await repository.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** A request to a service's /v1 (token given as a promise so callers can pass a cached lookup). */
export async function v1Request(
  baseUrl: string,
  token: Promise<string> | string | undefined,
  method: string,
  requestPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<V1Response> {
  {
    const response = await fetch(`${baseUrl}/v1${requestPath}`, {
      method,
      headers: {
        ...(token ? { 'x-auth-token': await token } : {}),
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
  }
}

export async function issueToken(keystoneUrl: string, user: string, project: string): Promise<string> {
  // Tests inject faults into Keystone too: a test client retries 5xx as any client would.
  for (let attempt = 1; ; attempt++) {
    const token = await issueTokenOnce(keystoneUrl, user, project, attempt === 10);
    if (token) return token;
    await sleep(100);
  }
}

async function issueTokenOnce(
  keystoneUrl: string,
  user: string,
  project: string,
  last: boolean,
): Promise<string | undefined> {
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
  if (response.status >= 500 && !last) return undefined;
  if (response.status !== 201)
    throw new Error(`token for ${user}: ${response.status} ${await response.text()}`);
  return response.headers.get('x-subject-token') ?? '';
}

/**
 * Direct calls to Cinder (as a user would make them) and to its volumes' data (as a guest would:
 * the simulator's data API, or Ceph for a real cloud).
 */
export class SimCinder {
  private readonly target: OpenStackTarget;

  constructor(
    target: Simulator | OpenStackTarget,
    private readonly token: (user: UserName) => Promise<string>,
  ) {
    this.target = 'kind' in target ? target : simulatorTarget(target);
  }

  async request(user: UserName, method: string, requestPath: string, body?: unknown, microversion?: string) {
    const response = await fetch(
      `${this.target.urls.cinder}/v3/${await this.target.projectId(user)}${requestPath}`,
      {
        method,
        headers: {
          'x-auth-token': await this.token(user),
          'content-type': 'application/json',
          ...(microversion ? { 'openstack-api-version': `volume ${microversion}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
    );
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

  /** Writes bytes into a volume as a guest would. */
  async write(volumeId: string, offset: number, data: Buffer) {
    await this.target.data.write(volumeId, offset, data);
  }

  /** Several writes at once, in order (one import-diff on Ceph). */
  async writeMany(volumeId: string, writes: Array<{ offset: number; data: Buffer }>) {
    await this.target.data.writeMany(volumeId, writes);
  }

  /** Reads bytes of a volume as a guest would. */
  async read(volumeId: string, offset: number, length: number): Promise<Buffer> {
    return this.target.data.read(volumeId, offset, length);
  }

  async sha256(volumeId: string): Promise<string> {
    return this.target.data.sha256(volumeId);
  }

  /** sha256 of a snapshot's data. */
  async snapshotSha256(snapshotId: string): Promise<string> {
    const { status, body } = await this.request('admin', 'GET', `/snapshots/${snapshotId}`);
    if (status !== 200) throw new Error(`snapshot ${snapshotId}: ${status}`);
    return this.target.data.snapshotSha256(body.snapshot.volume_id, snapshotId);
  }

  /** Marks a volume in-use by an instance the old way (os-attach, no Nova), as Nova's attach would; returns the attachment id. */
  async attach(volumeId: string, instanceId: string, mountpoint = '/dev/vdb'): Promise<string> {
    const attached = await this.request('admin', 'POST', `/volumes/${volumeId}/action`, {
      'os-attach': { instance_uuid: instanceId, mountpoint },
    });
    if (attached.status !== 202)
      throw new Error(`os-attach ${volumeId}: ${attached.status} ${JSON.stringify(attached.body)}`);
    const volume = await this.waitVolume('admin', volumeId, 'in-use');
    return volume.attachments[0].attachment_id;
  }

  async detach(volumeId: string, attachmentId: string): Promise<void> {
    const detached = await this.request('admin', 'POST', `/volumes/${volumeId}/action`, {
      'os-detach': { attachment_id: attachmentId },
    });
    if (detached.status !== 202)
      throw new Error(`os-detach ${volumeId}: ${detached.status} ${JSON.stringify(detached.body)}`);
    await this.waitVolume('admin', volumeId, 'available');
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
