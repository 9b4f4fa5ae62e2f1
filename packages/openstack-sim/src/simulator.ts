import { closeSync, mkdirSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fsExt from 'fs-ext';
import { dataApiRoutes } from './cinder/data-api.js';
import { cinderErrorReply, cinderPrepare, cinderRoutes } from './cinder/routes.js';
import { registerSnapshotTasks } from './cinder/snapshots.js';
import { VolumeFiles } from './cinder/volume-files.js';
import { registerVolumeTasks } from './cinder/volumes.js';
import { type FaultSpec, FaultTable, SERVICE_NAMES, type ServiceName } from './common/faults.js';
import { type Reply, type RequestContext, Router, ServiceServer } from './common/http.js';
import { type SimLogger, silentLogger } from './common/logger.js';
import { seedImage } from './glance/images.js';
import { glanceErrorReply, glanceRoutes } from './glance/routes.js';
import { projectByName, seedIdentity } from './keystone/identity.js';
import { keystoneErrorReply, keystoneRoutes } from './keystone/routes.js';
import { registerTransitionTasks } from './nova/actions.js';
import { novaErrorReply, novaPrepare, novaRoutes } from './nova/routes.js';
import { registerServerTasks } from './nova/servers.js';
import { registerSnapshotImageTasks } from './nova/snapshots.js';
import { registerVolumeAttachmentTasks } from './nova/volume-attachments.js';
import type { Sim, SimStats } from './sim/context.js';
import { faultRoutes } from './sim/fault-routes.js';
import { Scheduler } from './state/scheduler.js';
import { Store } from './state/store.js';
import type { SimState } from './state/types.js';

export type { FaultSpec, ServiceName } from './common/faults.js';

export interface SimulatorOptions {
  /** Persisted state; omitted → a temporary directory removed on close(). */
  stateDir?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0/omitted → a free port. */
  ports?: { keystone?: number; cinder?: number; nova?: number; glance?: number };
  /** Default 3600. */
  tokenTtlSeconds?: number;
  /** How long asynchronous transitions take (default 200 ms). */
  transitionDelayMs?: number;
  logger?: SimLogger;
}

export type ProjectName = 'admin' | 'demo' | 'alt_demo' | 'service';

export interface Simulator {
  urls: {
    /** http://host:port/v3 */
    keystone: string;
    /** http://host:port (no /v3) */
    cinder: string;
    /** http://host:port/v2.1 */
    nova: string;
    /** http://host:port */
    glance: string;
  };
  stateDir: string;
  /** The `file` layout directory (docs/file-volume-layout.md). */
  volumesDir: string;
  projects: Record<ProjectName, { id: string; name: string }>;
  serviceUser: { name: 'backup'; password: 'backup'; project: 'service' };
  faults: {
    /** Resolves once a `down` change has taken effect (listening stopped or resumed). */
    set(service: ServiceName, f: FaultSpec): Promise<void>;
    clear(service?: ServiceName): Promise<void>;
  };
  /** Counters since start (not persisted): e.g. how often a snapshot of each name was created. */
  stats: SimStats;
  /**
   * Test control over asynchronous transitions: `hold('server.build')` keeps new servers in BUILD
   * until `release('server.build')` (any task name of the scheduler: `volume.create`, …).
   */
  transitions: { hold(op: string): void; release(op: string): void };
  /** Stops the servers and persists the state; pending transitions resume at the next start. */
  close(): Promise<void>;
}

function emptyState(): SimState {
  const state: SimState = {
    version: 1,
    projects: {},
    users: {},
    roles: {},
    assignments: [],
    tokens: {},
    volumes: {},
    snapshots: {},
    attachments: {},
    servers: {},
    images: {},
    tasks: {},
    counters: { instance: 0 },
  };
  seedIdentity(state);
  return state;
}

/** One process owns a state directory at a time (flock on `<stateDir>/.lock`). */
function lockStateDir(dir: string): number {
  const fd = openSync(join(dir, '.lock'), 'w');
  try {
    fsExt.flockSync(fd, 'exnb');
  } catch {
    closeSync(fd);
    throw new Error(`state directory ${dir} is in use by another simulator`);
  }
  return fd;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const temporary = !options.stateDir;
  const stateDir = resolve(options.stateDir ?? (await mkdtemp(join(tmpdir(), 'openstack-sim-'))));
  mkdirSync(stateDir, { recursive: true });
  const lockFd = lockStateDir(stateDir);
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const { store, created } = Store.open(stateDir, emptyState);
  const files = new VolumeFiles(join(stateDir, 'volumes'));
  await files.init();
  const sim: Sim = {
    store,
    scheduler: new Scheduler(store, options.transitionDelayMs ?? 200, logger),
    files,
    faults: new FaultTable(),
    logger,
    stateDir,
    imagesDir: join(stateDir, 'images'),
    instancesDir: join(stateDir, 'instances'),
    tokenTtlSeconds: options.tokenTtlSeconds ?? 3600,
    urls: { keystone: '', cinder: '', nova: '', glance: '' },
    stats: { snapshotsCreated: new Map() },
  };
  mkdirSync(sim.imagesDir, { recursive: true });
  mkdirSync(sim.instancesDir, { recursive: true });

  registerVolumeTasks(sim);
  registerSnapshotTasks(sim);
  registerServerTasks(sim);
  registerTransitionTasks(sim);
  registerSnapshotImageTasks(sim);
  registerVolumeAttachmentTasks(sim);

  const servers = {} as Record<ServiceName, ServiceServer>;
  const control = {
    async set(service: ServiceName, spec: FaultSpec) {
      sim.faults.set(service, spec);
      await servers[service].setDown(spec.down === true);
    },
    async clear(service?: ServiceName) {
      for (const s of service ? [service] : SERVICE_NAMES) {
        sim.faults.clear(s);
        await servers[s].setDown(false);
      }
    },
  };
  type ErrorReply = (sim: Sim, ctx: RequestContext, status: number, message: string) => Reply;
  const services: Record<
    ServiceName,
    { routes: (r: Router, s: Sim) => void; error: ErrorReply; prepare?: (ctx: RequestContext) => void }
  > = {
    keystone: { routes: keystoneRoutes, error: (s, _ctx, status, msg) => keystoneErrorReply(s, status, msg) },
    cinder: { routes: cinderRoutes, error: cinderErrorReply, prepare: cinderPrepare },
    nova: { routes: novaRoutes, error: novaErrorReply, prepare: novaPrepare },
    glance: { routes: glanceRoutes, error: glanceErrorReply },
  };
  const defaultPorts = options.ports ?? {};
  try {
    for (const name of SERVICE_NAMES) {
      const def = services[name];
      const router = new Router();
      def.routes(router, sim);
      const simRouter = new Router();
      faultRoutes(simRouter, sim, control);
      if (name === 'cinder') dataApiRoutes(simRouter, sim);
      const server = new ServiceServer(
        {
          name,
          router,
          simRouter,
          errorReply: (ctx, status, message) => def.error(sim, ctx, status, message),
          prepare: def.prepare,
          persist: () => store.save(),
        },
        sim.faults,
        logger,
        host,
      );
      await server.listen(defaultPorts[name] ?? 0);
      servers[name] = server;
      sim.urls[name] = server.baseUrl;
    }
  } catch (err) {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    closeSync(lockFd);
    throw err;
  }

  const project = (name: ProjectName) => {
    const p = projectByName(store.state, name)!;
    return { id: p.id, name: p.name };
  };
  if (created) {
    await seedImage(sim, project('admin').id);
    store.save();
  }
  sim.scheduler.resume();
  logger.info({ urls: sim.urls, stateDir }, 'OpenStack simulator started');

  let closed = false;
  return {
    urls: {
      keystone: `${sim.urls.keystone}/v3`,
      cinder: sim.urls.cinder,
      nova: `${sim.urls.nova}/v2.1`,
      glance: sim.urls.glance,
    },
    stateDir,
    stats: sim.stats,
    transitions: {
      hold: (op) => sim.scheduler.hold(op),
      release: (op) => sim.scheduler.release(op),
    },
    volumesDir: files.dir,
    projects: {
      admin: project('admin'),
      demo: project('demo'),
      alt_demo: project('alt_demo'),
      service: project('service'),
    },
    serviceUser: { name: 'backup', password: 'backup', project: 'service' },
    faults: control,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(Object.values(servers).map((s) => s.stop()));
      await sim.scheduler.close();
      store.save();
      closeSync(lockFd);
      if (temporary) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
