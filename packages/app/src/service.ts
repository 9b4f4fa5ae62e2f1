import {
  buildHttpApp,
  type Config,
  createLogger,
  createMetrics,
  type Database,
  type FastifyInstance,
  type Logger,
  openDatabase,
} from '@backup-service/server';

export interface RunningService {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly http: FastifyInstance;
  /** Base URL of the API, e.g. http://127.0.0.1:8110 */
  readonly url: string;
  /** Graceful stop: no new requests, in-flight ones finish, jobs handed back, database closed. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
}

/** Wires configuration, database, domain and transports together and starts listening. */
export async function startService(config: Config, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const database = await openDatabase(config, logger);
  const cleanups: Array<() => Promise<void>> = [() => database.close()];
  try {
    const http = await buildHttpApp({
      logger,
      metrics,
      readiness: [{ name: 'database', check: () => database.ping() }],
    });
    try {
      await http.listen({ port: config.PORT, host: config.HOST });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') {
        throw new Error(`PORT: cannot listen on ${config.HOST}:${config.PORT} (${code})`, { cause: error });
      }
      throw error;
    }
    cleanups.unshift(() => http.close());
    const address = http.server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
    logger.info({ url }, 'backup service is listening');
    let closing: Promise<void> | undefined;
    return {
      config,
      logger,
      database,
      http,
      url,
      close() {
        closing ??= runInOrder(cleanups);
        return closing;
      },
    };
  } catch (error) {
    await runInOrder(cleanups).catch(() => {});
    throw error;
  }
}

async function runInOrder(steps: Array<() => Promise<void>>) {
  for (const step of steps) await step();
}
