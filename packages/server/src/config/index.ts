export { CONFIG_TABLE_END, CONFIG_TABLE_START, renderConfigTable } from './docs.js';
export { ConfigError, loadConfig } from './load.js';
export { type Config, type ConfigVariable, configSchema, configShape, configVariables } from './schema.js';
