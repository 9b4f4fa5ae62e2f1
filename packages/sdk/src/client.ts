import { createTRPCClient, httpBatchLink, retryLink, type TRPCClient } from '@trpc/client';
import { fixedToken, type KeystoneCredentials, keystoneTokens, type TokenSource } from './keystone.js';
import type { AppRouter } from './types.js';

interface CommonOptions {
  /** The service, e.g. `http://api.zone1:8110` (the client talks to `<url>/trpc`). */
  url: string;
  /** Another fetch (default: the global one of Node ≥ 20). */
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

export type BackupClientOptions = CommonOptions &
  (
    | {
        /** An X-Auth-Token, or a function that gives the current one. */
        token: string | (() => string | Promise<string>);
      }
    | {
        /** Sign in to Keystone: the client gets a token and renews it before it expires (or on a 401). */
        keystone: KeystoneCredentials;
      }
  );

/** Every procedure of the service, typed from its router: `client.volumeBackups.get.query({ id })`. */
export type BackupClient = TRPCClient<AppRouter>;

/**
 * A client of the backup service over tRPC.
 *
 * @example
 * const client = createBackupClient({ url: 'http://127.0.0.1:8110', token });
 * const backup = await client.volumeBackups.create.mutate({ volumeId });
 */
export function createBackupClient(options: BackupClientOptions): BackupClient {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const tokens: TokenSource =
    'keystone' in options ? keystoneTokens(options.keystone, fetchFn) : fixedToken(options.token);
  const base = options.url.replace(/\/+$/, '');
  return createTRPCClient<AppRouter>({
    links: [
      // A refused token (expired, revoked) is renewed once and the call made again; nothing ran
      // on the service for it, since authentication comes before anything else.
      retryLink({
        retry: ({ error, attempts }) =>
          attempts === 1 && error.data?.code === 'UNAUTHORIZED' && tokens.invalidate(),
      }),
      httpBatchLink({
        url: base.endsWith('/trpc') ? base : `${base}/trpc`,
        fetch: fetchFn,
        headers: async () => ({ ...options.headers, 'x-auth-token': await tokens.token() }),
      }),
    ],
  });
}
