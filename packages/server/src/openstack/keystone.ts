import { z } from 'zod';
import { headerValue, type OpenStackHttp, OpenStackHttpError } from './http.js';

const endpointSchema = z.object({
  interface: z.string(),
  region: z.string().nullish(),
  region_id: z.string().nullish(),
  url: z.string(),
});

const catalogEntrySchema = z.object({
  type: z.string(),
  name: z.string().optional(),
  endpoints: z.array(endpointSchema),
});

/** The token body Keystone returns on issue (201) and validation (200); only what we read is checked. */
export const tokenBodySchema = z.object({
  token: z.object({
    expires_at: z.string(),
    issued_at: z.string().optional(),
    methods: z.array(z.string()).optional(),
    user: z.object({
      id: z.string(),
      name: z.string(),
      domain: z.object({ id: z.string() }).partial().optional(),
    }),
    project: z
      .object({ id: z.string(), name: z.string(), domain: z.object({ id: z.string() }).partial().optional() })
      .optional(),
    roles: z.array(z.object({ id: z.string().optional(), name: z.string() })).default([]),
    catalog: z.array(catalogEntrySchema).optional(),
  }),
});

export type TokenBody = z.infer<typeof tokenBodySchema>['token'];
export type ServiceCatalog = z.infer<typeof catalogEntrySchema>[];

export interface PasswordCredentials {
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
}

export interface IssuedToken {
  id: string;
  body: TokenBody;
  expiresAt: Date;
}

export class KeystoneClient {
  constructor(
    readonly authUrl: string,
    private readonly http: OpenStackHttp,
  ) {}

  /** POST /v3/auth/tokens, password method, project scope by name. */
  async issueToken(credentials: PasswordCredentials): Promise<IssuedToken> {
    const response = await this.http.send({
      method: 'POST',
      url: `${this.authUrl}/auth/tokens`,
      idempotent: true, // issuing a second token is harmless
      json: {
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: credentials.username,
                domain: { name: credentials.userDomainName },
                password: credentials.password,
              },
            },
          },
          scope: {
            project: { name: credentials.projectName, domain: { name: credentials.projectDomainName } },
          },
        },
      },
    });
    const id = headerValue(response.headers['x-subject-token']);
    if (!id) throw new Error('keystone issued a token without an X-Subject-Token header');
    const { token } = tokenBodySchema.parse(response.body);
    return { id, body: token, expiresAt: new Date(token.expires_at) };
  }

  /** GET /v3/auth/tokens: the subject token's body, or null when it is invalid or expired (404). */
  async validateToken(serviceToken: string, subjectToken: string): Promise<TokenBody | null> {
    const response = await this.http.send({
      method: 'GET',
      url: `${this.authUrl}/auth/tokens`,
      headers: { 'x-auth-token': serviceToken, 'x-subject-token': subjectToken },
      accept: [404],
    });
    if (response.status === 404) return null;
    return tokenBodySchema.parse(response.body).token;
  }
}

/**
 * The backup service's own Keystone session: a project-scoped token for the service user, renewed
 * before it expires (or when a service rejects it), and the catalog that came with it.
 */
export class ServiceSession {
  private current: IssuedToken | undefined;
  private pending: Promise<IssuedToken> | undefined;

  constructor(
    private readonly keystone: KeystoneClient,
    private readonly credentials: PasswordCredentials,
    private readonly renewBeforeMs = 5 * 60_000,
  ) {}

  async token(): Promise<IssuedToken> {
    if (this.current && this.current.expiresAt.getTime() - Date.now() > this.renewBeforeMs)
      return this.current;
    this.pending ??= this.keystone.issueToken(this.credentials).finally(() => {
      this.pending = undefined;
    });
    this.current = await this.pending;
    return this.current;
  }

  /** A service answered 401 to our token: forget it so the next call gets a new one. */
  invalidate(tokenId: string) {
    if (this.current?.id === tokenId) this.current = undefined;
  }

  /** Runs `fn` with the service token, once more with a fresh token if the first is rejected. */
  async withToken<T>(fn: (token: IssuedToken) => Promise<T>): Promise<T> {
    const token = await this.token();
    try {
      return await fn(token);
    } catch (error) {
      if (error instanceof OpenStackHttpError && error.status === 401) {
        this.invalidate(token.id);
        return fn(await this.token());
      }
      throw error;
    }
  }
}

export type EndpointInterface = 'public' | 'internal' | 'admin';

/**
 * The URL of a service in a token's catalog. Cinder registers as `volumev3` (DevStack, Nova's
 * default `catalog_info`) or `block-storage` (install guide); both are accepted.
 */
export function endpointFromCatalog(
  catalog: ServiceCatalog | undefined,
  types: string[],
  iface: EndpointInterface,
  region?: string,
): string | undefined {
  for (const type of types) {
    const entry = catalog?.find((e) => e.type === type);
    const endpoint = entry?.endpoints.find(
      (e) => e.interface === iface && (!region || e.region === region || e.region_id === region),
    );
    if (endpoint) return endpoint.url.replace(/\/+$/, '');
  }
  return undefined;
}
