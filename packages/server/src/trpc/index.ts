export * from './client-types.js';
export type { TrpcContext } from './context.js';
export { TRPC_CODES } from './errors.js';
export { createCallerFactory } from './init.js';
export { type TrpcOptions, trpcPlugin } from './plugin.js';
export { appRouter } from './router.js';
