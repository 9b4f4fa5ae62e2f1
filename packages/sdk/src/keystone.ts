/** A Keystone v3 user that the SDK signs in as (password authentication, project scope). */
export interface KeystoneCredentials {
  /** Keystone's URL, e.g. `http://keystone:5000/v3` (`/v3` is added when missing). */
  authUrl: string;
  username: string;
  password: string;
  /** The project's name. */
  project: string;
  /** Default: `Default`. */
  userDomainName?: string;
  /** Default: `Default`. */
  projectDomainName?: string;
}

/** Where the client's `X-Auth-Token` comes from. */
export interface TokenSource {
  token(): Promise<string>;
  /** Forgets the current token after the service refused it; true when a new one can be had. */
  invalidate(): boolean;
}

export function fixedToken(token: string | (() => string | Promise<string>)): TokenSource {
  return {
    token: async () => (typeof token === 'function' ? token() : token),
    invalidate: () => typeof token === 'function',
  };
}

/** Renew this long before the token expires, so a call never leaves with a token about to lapse. */
const RENEW_BEFORE_MS = 60_000;

/**
 * Signs in to Keystone when a token is first needed, keeps it until shortly before it expires and
 * signs in again then — or at once when the service answers 401 (e.g. the token was revoked).
 */
export function keystoneTokens(credentials: KeystoneCredentials, fetchFn: typeof fetch = fetch): TokenSource {
  let current: Promise<{ id: string; expiresAt: number }> | undefined;
  const issue = async () => {
    const base = credentials.authUrl.replace(/\/+$/, '');
    const url = `${/\/v3$/.test(base) ? base : `${base}/v3`}/auth/tokens`;
    const response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: credentials.username,
                domain: { name: credentials.userDomainName ?? 'Default' },
                password: credentials.password,
              },
            },
          },
          scope: {
            project: {
              name: credentials.project,
              domain: { name: credentials.projectDomainName ?? 'Default' },
            },
          },
        },
      }),
    });
    const id = response.headers.get('x-subject-token');
    if (response.status !== 201 || !id) {
      throw new KeystoneError(
        `Keystone refused to issue a token for ${credentials.username} (HTTP ${response.status}): ${await response.text()}`,
      );
    }
    const body = (await response.json()) as { token?: { expires_at?: string } };
    const expiresAt = body.token?.expires_at ? Date.parse(body.token.expires_at) : Date.now() + 3_600_000;
    return { id, expiresAt };
  };
  return {
    async token() {
      const pending = current;
      if (pending) {
        const held = await pending.catch(() => undefined);
        if (held && held.expiresAt - RENEW_BEFORE_MS > Date.now()) return held.id;
        // Another call already went for a new one meanwhile: share it.
        if (current !== pending) return this.token();
      }
      const attempt = issue();
      current = attempt;
      // A failed sign-in is not remembered: the next call tries again.
      attempt.catch(() => {
        if (current === attempt) current = undefined;
      });
      return (await attempt).id;
    },
    invalidate() {
      current = undefined;
      return true;
    },
  };
}

export class KeystoneError extends Error {
  override readonly name = 'KeystoneError';
}
