import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Simulator, startSimulator } from '@backup-service/openstack-sim';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort, type ServiceProcess, spawnService, waitUntilHealthy } from './service-process.js';
import { issueToken, SimCinder, type UserName, type V1Response, v1Request } from './stack.js';

export interface Replica extends ServiceProcess {
  name: string;
}

export interface Cluster {
  sim: Simulator;
  db: TestDatabase;
  repositoryDir: string;
  cinder: SimCinder;
  token(user: UserName): Promise<string>;
  /** Starts a service process sharing the cluster's database, OpenStack and repository. */
  startReplica(env?: Record<string, string>, options?: { waitHealthy?: boolean }): Promise<Replica>;
  /** A /v1 request to a replica (or the first one alive). */
  v1(
    replica: Replica,
    user: UserName,
    method: string,
    requestPath: string,
    body?: unknown,
  ): Promise<V1Response>;
  close(): Promise<void>;
}

/**
 * Real service processes (as `pnpm start` runs them) sharing one PostgreSQL database, one
 * simulated OpenStack (in this test process) and one repository: what several replicas of the
 * service in production share. Processes can be killed at will.
 */
export async function startCluster(defaults: Record<string, string> = {}): Promise<Cluster> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'bs-cluster-'));
  const sim = await startSimulator({ stateDir: path.join(base, 'sim'), transitionDelayMs: 20 });
  const db = await createTestDatabase();
  const repositoryDir = path.join(base, 'repository');
  const replicas: Replica[] = [];
  const tokens = new Map<UserName, Promise<string>>();
  const token = (user: UserName) => {
    let cached = tokens.get(user);
    if (!cached) {
      cached = issueToken(sim.urls.keystone, user, user === 'reader' ? 'demo' : user);
      tokens.set(user, cached);
    }
    return cached;
  };
  return {
    sim,
    db,
    repositoryDir,
    cinder: new SimCinder(sim, token),
    token,
    async startReplica(env = {}, options = {}) {
      const name = `replica-${replicas.length + 1}`;
      const dataDir = path.join(base, name);
      await mkdir(dataDir, { recursive: true });
      const process = spawnService({
        LOG_LEVEL: 'info',
        PORT: String(await freePort()),
        DATA_DIR: dataDir,
        DATABASE_URL: db.url,
        OS_AUTH_URL: sim.urls.keystone,
        OS_USERNAME: sim.serviceUser.name,
        OS_PASSWORD: sim.serviceUser.password,
        OS_PROJECT_NAME: sim.serviceUser.project,
        FILE_DRIVER_DIR: sim.volumesDir,
        REPOSITORY_URL: `file://${repositoryDir}`,
        JOB_POLL_MS: '100',
        JOB_LEASE_MS: '3000',
        OPENSTACK_TIMEOUT_MS: '5000',
        DATAPLANE_THREADS: '1',
        GATEWAY_PORT: '0',
        ...defaults,
        ...env,
      });
      const replica: Replica = Object.assign(process, { name });
      replicas.push(replica);
      if (options.waitHealthy !== false) await waitUntilHealthy(replica);
      return replica;
    },
    v1(replica, user, method, requestPath, body) {
      return v1Request(replica.url, token(user), method, requestPath, body);
    },
    async close() {
      for (const replica of replicas) replica.kill('SIGKILL');
      await Promise.all(replicas.map((r) => r.exited));
      await sim.close();
      await db.drop();
      await rm(base, { recursive: true, force: true });
    },
  };
}
