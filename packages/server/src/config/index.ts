export { CONFIG_TABLE_END, CONFIG_TABLE_START, renderConfigTable } from './docs.js';
export { type GatewayConfig, gatewayConfigSchema, loadGatewayConfig } from './gateway.js';
export { ConfigError, loadConfig, loadVariables } from './load.js';
export { type Config, type ConfigVariable, configSchema, configShape, configVariables } from './schema.js';
