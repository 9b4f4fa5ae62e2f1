#!/usr/bin/env -S npx tsx
// `pnpm gateway`: the reference API gateway (SPEC §5.7) on its own, in front of a backup service.
import { buildGatewayApp } from '@backup-service/rest-compat';
import { ConfigError, createLogger, type GatewayConfig, loadGatewayConfig } from '@backup-service/server';

let config: GatewayConfig;
try {
  config = loadGatewayConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

const logger = createLogger(config.LOG_LEVEL);
// Without OS_AUTH_URL, the Keystone of the embedded default's simulator (as `pnpm start` runs it).
const authUrl = config.OS_AUTH_URL ?? `http://127.0.0.1:${config.SIM_KEYSTONE_PORT}/v3`;
const backupUrl = config.GATEWAY_BACKUP_URL ?? `http://127.0.0.1:${config.PORT || 8110}`;
try {
  const app = await buildGatewayApp({
    logger,
    backupUrl,
    authUrl,
    interface: config.OS_INTERFACE,
    region: config.OS_REGION_NAME,
    cinderUrl: config.CINDER_URL,
    timeoutMs: config.OPENSTACK_TIMEOUT_MS,
    tokenCacheSeconds: config.TOKEN_CACHE_SECONDS,
  });
  try {
    await app.listen({ port: config.GATEWAY_PORT, host: config.HOST });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES')
      throw new Error(`GATEWAY_PORT: cannot listen on ${config.HOST}:${config.GATEWAY_PORT} (${code})`);
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.GATEWAY_PORT;
  logger.info(
    {
      gateway: `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}/v1`,
      backup: backupUrl,
      keystone: authUrl,
    },
    'reference gateway is listening',
  );
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error) {
  process.stderr.write(`start-up failed: ${(error as Error).message}\n`);
  process.exit(1);
}
