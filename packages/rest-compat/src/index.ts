export { buildGatewayApp, type GatewayOptions, UPSTREAM_HEADER } from './gateway/app.js';
export { GATEWAY_ROUTES, type GatewayRoute, type GatewayUpstream } from './gateway/routes.js';
export type { V1Options } from './v1/context.js';
export { openApiDocument } from './v1/openapi.js';
export { CinderPassthrough, cinderUrl } from './v1/passthrough.js';
export { v1Plugin } from './v1/plugin.js';
export * as v1Schemas from './v1/schemas/volume-backups.js';
