#!/usr/bin/env -S npx tsx
import './v8-flags.js'; // before anything allocates
import { type Config, ConfigError, loadConfig } from '@backup-service/server';
import { startService } from './service.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

try {
  const service = await startService(config);
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    service.logger.info({ signal }, 'stopping: no new requests; finishing in-flight requests and job steps');
    setTimeout(() => {
      service.logger.error('graceful stop took longer than SHUTDOWN_TIMEOUT_MS: exiting now');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    await service.close();
    service.logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error) {
  process.stderr.write(`start-up failed: ${(error as Error).message}\n`);
  process.exit(1);
}
