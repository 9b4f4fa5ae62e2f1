export type { FastifyInstance, FastifyPluginAsync } from 'fastify';
export { Authenticator } from './auth/authenticator.js';
export * from './auth/caller.js';
export * from './config/index.js';
export { type Core, type CoreOptions, createCore } from './core.js';
export {
  addRepositoryKey,
  checkRepositoryKey,
  createDataPlane,
  type DataPlane,
  listRepositoryKeys,
  normalizeRepositoryUrl,
  type ObjectStore,
  openObjectStore,
  operatorKeyId,
  parseRepositoryKey,
  RepositoryKeyError,
  type RepositoryOptions,
  readRepositoryKeyFile,
  removeRepositoryKey,
} from './dataplane/index.js';
export {
  type RepositorySettings,
  repositoryOptionsOf,
  repositorySettingsFromConfig,
} from './dataplane/repository-settings.js';
export { swiftAuthFromCredentials } from './dataplane/swift-auth.js';
export * from './db/index.js';
export * from './domain/errors.js';
export * from './domain/instance-backups/service.js';
export * from './domain/instance-snapshots/service.js';
export { ACCEPTED_INSTANCE_STATUSES } from './domain/instances/inspect.js';
export {
  INSTANCE_ARTIFACT_SORT_KEYS,
  type InstanceArtifactSortKey,
  type ListInstanceArtifactsQuery,
  parseInstanceArtifactSort,
} from './domain/instances/listing.js';
export * from './domain/pagination.js';
export { type ImportRepositoryReport, RecoveryService } from './domain/recovery.js';
export { RepositoryDirectory } from './domain/repositories.js';
export type { RenderedPage } from './domain/volume-backups/list-page-cache.js';
export * from './domain/volume-backups/service.js';
export * from './domain/volume-rollbacks/service.js';
export type {
  InstanceArtifactStatus,
  InstanceBackup,
  InstanceSnapshot,
  Job,
  JobKind,
  JobStatus,
  VolumeBackup,
  VolumeBackupStatus,
} from './generated/prisma/client.js';
export {
  createGraphQLHandler,
  GRAPHQL_CODES,
  type GraphQLHandler,
  type GraphQLOptions,
  graphqlPlugin,
} from './graphql/index.js';
export { buildHttpApp, type HttpAppOptions, type ReadinessCheck } from './http/app.js';
export * from './jobs/index.js';
export { createLogger, type Logger } from './observability/logger.js';
export { createMetrics, type Metrics } from './observability/metrics.js';
export * from './openstack/cinder.js';
export * from './openstack/cloud.js';
export * from './openstack/http.js';
export * from './openstack/keystone.js';
export {
  type AppRouter,
  appRouter,
  createCallerFactory,
  TRPC_CODES,
  type TrpcOptions,
  trpcPlugin,
} from './trpc/index.js';
