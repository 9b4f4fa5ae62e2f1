import type { Core } from '../core.js';

/** What every tRPC call starts from: the request's token, and the domain services. */
export interface TrpcContext {
  /** `X-Auth-Token` of the request; procedures validate it with Keystone before anything else. */
  token: string | undefined;
  /**
   * @internal The domain services. Marked internal so that the SDK's bundled declarations (built
   * with `stripInternal`) carry the router's shape without the server's types.
   */
  core: Core;
}
