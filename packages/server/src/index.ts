export type { FastifyInstance, FastifyPluginAsync } from 'fastify';
export * from './config/index.js';
export * from './db/index.js';
export { buildHttpApp, type HttpAppOptions, type ReadinessCheck } from './http/app.js';
export { createLogger, type Logger } from './observability/logger.js';
export { createMetrics, type Metrics } from './observability/metrics.js';
