import { z } from 'zod';
import { loadVariables } from './load.js';
import { configShape } from './schema.js';

// The variables the reference gateway reads when it runs on its own (`pnpm gateway`): the same names,
// meanings and checks as the service's (schema.ts), only fewer of them. It keeps no secrets: it
// finds the caller's Cinder from the caller's own token.

export const gatewayConfigSchema = z.object({
  GATEWAY_PORT: configShape.GATEWAY_PORT,
  GATEWAY_BACKUP_URL: configShape.GATEWAY_BACKUP_URL,
  HOST: configShape.HOST,
  PORT: configShape.PORT,
  LOG_LEVEL: configShape.LOG_LEVEL,
  OS_AUTH_URL: configShape.OS_AUTH_URL,
  OS_INTERFACE: configShape.OS_INTERFACE,
  OS_REGION_NAME: configShape.OS_REGION_NAME,
  CINDER_URL: configShape.CINDER_URL,
  OPENSTACK_TIMEOUT_MS: configShape.OPENSTACK_TIMEOUT_MS,
  TOKEN_CACHE_SECONDS: configShape.TOKEN_CACHE_SECONDS,
  SIM_KEYSTONE_PORT: configShape.SIM_KEYSTONE_PORT,
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadVariables(gatewayConfigSchema, env);
}
