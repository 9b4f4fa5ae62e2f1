import { writeSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Simulator, startSimulator } from '@backup-service/openstack-sim';
import { buildGatewayApp, v1Plugin } from '@backup-service/rest-compat';
import {
  buildHttpApp,
  type Config,
  type Core,
  type CoreOptions,
  createCore,
  createLogger,
  createMetrics,
  type Database,
  type FastifyInstance,
  graphqlPlugin,
  type Logger,
  type OpenStackSettings,
  openDatabase,
  repositorySettingsFromConfig,
  trpcPlugin,
} from '@backup-service/server';

export interface RunningService {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly core: Core;
  readonly http: FastifyInstance;
  /** The built-in OpenStack, when OS_AUTH_URL is not set (embedded default). */
  readonly simulator: Simulator | undefined;
  /** Base URL of the API, e.g. http://127.0.0.1:8110 */
  readonly url: string;
  /** Base URL of the reference gateway started beside it (GATEWAY_PORT ≠ 0), e.g. http://127.0.0.1:8080 */
  readonly gatewayUrl: string | undefined;
  /** Graceful stop: no new requests, in-flight ones finish, jobs handed back, database closed. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Test hooks passed to the job engine. */
  jobHooks?: Pick<CoreOptions['jobs'], 'observe' | 'retryDelayMs'>;
  /** How often jobs poll Cinder while waiting (tests shorten it). */
  openStackPollMs?: number;
}

/** Wires configuration, database, OpenStack, domain and transports together and starts listening. */
export async function startService(config: Config, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = () => runInOrder(cleanups);
  try {
    const dataDir = path.resolve(config.DATA_DIR);
    const database = await openDatabase(config, logger);
    cleanups.unshift(() => database.close());
    let simulator: Simulator | undefined;
    let openstack: OpenStackSettings;
    let fileDriverDir = config.FILE_DRIVER_DIR;
    const http = { timeoutMs: config.OPENSTACK_TIMEOUT_MS, maxAttempts: config.OPENSTACK_MAX_ATTEMPTS };
    if (config.OS_AUTH_URL) {
      openstack = {
        authUrl: config.OS_AUTH_URL,
        credentials: {
          username: config.OS_USERNAME,
          password: config.OS_PASSWORD ?? '',
          projectName: config.OS_PROJECT_NAME,
          userDomainName: config.OS_USER_DOMAIN_NAME,
          projectDomainName: config.OS_PROJECT_DOMAIN_NAME,
        },
        interface: config.OS_INTERFACE,
        region: config.OS_REGION_NAME,
        cinderUrl: config.CINDER_URL,
        http,
      };
    } else {
      simulator = await startSimulator({
        stateDir: path.join(dataDir, 'sim'),
        ports: {
          keystone: config.SIM_KEYSTONE_PORT,
          cinder: config.SIM_CINDER_PORT,
          nova: config.SIM_NOVA_PORT,
          glance: config.SIM_GLANCE_PORT,
        },
      });
      const sim = simulator;
      cleanups.push(() => sim.close());
      openstack = {
        authUrl: sim.urls.keystone,
        credentials: {
          username: sim.serviceUser.name,
          password: sim.serviceUser.password,
          projectName: sim.serviceUser.project,
          userDomainName: 'Default',
          projectDomainName: 'Default',
        },
        interface: 'public',
        http,
      };
      fileDriverDir ??= sim.volumesDir;
      logger.info(
        {
          keystone: sim.urls.keystone,
          cinder: sim.urls.cinder,
          nova: sim.urls.nova,
          glance: sim.urls.glance,
          users: 'admin/admin (project admin), demo/demo, alt_demo/alt_demo, reader/reader (project demo)',
        },
        `OS_AUTH_URL is not set: using the built-in OpenStack simulator (default). Get a token: curl -si ${sim.urls.keystone}/auth/tokens -H 'content-type: application/json' -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"id":"default"},"password":"demo"}}},"scope":{"project":{"name":"demo","domain":{"id":"default"}}}}}' | grep -i x-subject-token`,
      );
    }
    const repositoryUrl = config.REPOSITORY_URL ?? pathToFileURL(path.join(dataDir, 'repository')).href;
    if (!config.REPOSITORY_URL)
      logger.info(
        { repository: repositoryUrl },
        'REPOSITORY_URL is not set: backups go to the filesystem repository (default)',
      );

    const core = createCore({
      prisma: database.prisma,
      logger,
      metrics,
      openstack,
      tokenCacheSeconds: config.TOKEN_CACHE_SECONDS,
      storage:
        config.STORAGE_DRIVER === 'file'
          ? { driver: 'file', dir: path.resolve(fileDriverDir ?? '') }
          : {
              driver: 'rbd',
              pool: config.RBD_POOL,
              cephConf: config.CEPH_CONF,
              client: config.CEPH_CLIENT,
              keyring: config.CEPH_KEYRING,
            },
      repository: {
        defaultUrl: repositoryUrl,
        containers: config.REPOSITORY_CONTAINERS,
        settings: repositorySettingsFromConfig(config),
      },
      dataPlaneThreads: config.DATAPLANE_THREADS,
      jobs: {
        concurrency: config.JOB_CONCURRENCY,
        leaseMs: config.JOB_LEASE_MS,
        pollMs: config.JOB_POLL_MS,
        observe: config.TEST_CRASH_AT ? crashAt(config.TEST_CRASH_AT) : undefined,
        ...options.jobHooks,
      },
      pollMs: options.openStackPollMs,
      stagingDir: path.resolve(config.STAGING_DIR ?? path.join(dataDir, 'staging')),
    });
    cleanups.unshift(() => core.stop(config.SHUTDOWN_TIMEOUT_MS));

    const app = await buildHttpApp({
      logger,
      metrics,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      readiness: [
        { name: 'database', check: () => database.ping() },
        { name: 'keystone', check: () => core.cloud.session.token().then(() => undefined) },
      ],
      mounts: {
        '/v1': v1Plugin({ core, passthroughTimeoutMs: config.OPENSTACK_TIMEOUT_MS }),
        '/trpc': trpcPlugin({ core }),
        '/graphql': graphqlPlugin({
          core,
          prisma: database.prisma,
          logger,
          // Subscriptions read job rows as often as an idle worker looks for new ones.
          subscriptionPollMs: config.JOB_POLL_MS,
        }),
      },
    });
    try {
      await app.listen({ port: config.PORT, host: config.HOST });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') {
        throw new Error(`PORT: cannot listen on ${config.HOST}:${config.PORT} (${code})`, { cause: error });
      }
      throw error;
    }
    // Stop taking requests first, then jobs, then the database, then the simulator.
    cleanups.unshift(() => app.close());
    core.start();

    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
    logger.info({ url }, 'backup service is listening');
    const gatewayUrl = await startGateway(config, openstack, url, logger, cleanups);
    let closing: Promise<void> | undefined;
    return {
      config,
      logger,
      database,
      core,
      http: app,
      simulator,
      url,
      gatewayUrl,
      close() {
        closing ??= stopAll();
        return closing;
      },
    };
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
}

/** The reference gateway (SPEC §5.7) in this process, in front of this service; GATEWAY_PORT=0: none. */
async function startGateway(
  config: Config,
  openstack: OpenStackSettings,
  serviceUrl: string,
  logger: Logger,
  cleanups: Array<() => Promise<void>>,
): Promise<string | undefined> {
  if (config.GATEWAY_PORT === 0) return undefined;
  const gateway = await buildGatewayApp({
    logger: logger.child({ component: 'gateway' }),
    backupUrl: config.GATEWAY_BACKUP_URL ?? serviceUrl,
    authUrl: openstack.authUrl,
    interface: openstack.interface,
    region: openstack.region,
    cinderUrl: openstack.cinderUrl,
    timeoutMs: config.OPENSTACK_TIMEOUT_MS,
    tokenCacheSeconds: config.TOKEN_CACHE_SECONDS,
  });
  cleanups.unshift(() => gateway.close());
  try {
    await gateway.listen({ port: config.GATEWAY_PORT, host: config.HOST });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new Error(`GATEWAY_PORT: cannot listen on ${config.HOST}:${config.GATEWAY_PORT} (${code})`, {
        cause: error,
      });
    }
    throw error;
  }
  const address = gateway.server.address();
  const port = typeof address === 'object' && address ? address.port : config.GATEWAY_PORT;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  logger.info(
    { gateway: `${url}/v1`, backup: config.GATEWAY_BACKUP_URL ?? serviceUrl },
    'reference gateway is listening',
  );
  return url;
}

/** TEST_CRASH_AT=<kind>:<step>[@<fraction>]: die as a power cut would, at that point of a job. */
function crashAt(spec: string): NonNullable<CoreOptions['jobs']['observe']> {
  const [kind, rest = ''] = spec.split(':');
  const [step, fraction] = rest.split('@');
  const threshold = fraction === undefined ? undefined : Number(fraction);
  return (point) => {
    if (point.job.kind !== kind || point.step !== step) return;
    if (threshold === undefined ? point.fraction !== undefined : (point.fraction ?? -1) < threshold) return;
    // Synchronously, or the line dies with the process in pino's buffer.
    writeSync(2, `TEST_CRASH_AT reached (${spec}, job ${point.job.id}): killing this process\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}

async function runInOrder(steps: Array<() => Promise<void>>) {
  for (const step of steps) await step();
}
