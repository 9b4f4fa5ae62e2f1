import {
  DomainError,
  type EndpointInterface,
  endpointFromCatalog,
  type KeystoneClient,
  OpenStackHttpError,
  unauthorized,
} from '@backup-service/server';

export interface CinderLocatorOptions {
  keystone: KeystoneClient;
  interface: EndpointInterface;
  region?: string;
  /** CINDER_URL: `%(project_id)s` (or `%(tenant_id)s`) is the caller's project. */
  cinderUrl?: string;
  cacheSeconds: number;
}

const PROJECT_PLACEHOLDER = /%\((project_id|tenant_id)\)s/g;
const MAX_CACHED = 10_000;

/**
 * The caller's Cinder endpoint, from the caller's token: the gateway keeps no credentials of its
 * own, so the token validates itself with Keystone (`X-Auth-Token` = `X-Subject-Token`, allowed for
 * the token's own subject). A valid answer is kept until min(expiry, cacheSeconds).
 */
export class CinderLocator {
  private readonly cache = new Map<string, { endpoint: string; until: number }>();

  constructor(private readonly options: CinderLocatorOptions) {}

  async endpointFor(token: string | undefined): Promise<string> {
    const { cinderUrl } = this.options;
    if (cinderUrl && !new RegExp(PROJECT_PLACEHOLDER.source).test(cinderUrl)) return trim(cinderUrl);
    if (!token) throw unauthorized();
    const cached = this.cache.get(token);
    if (cached && cached.until > Date.now()) return cached.endpoint;

    let body: Awaited<ReturnType<KeystoneClient['validateToken']>>;
    try {
      body = await this.options.keystone.validateToken(token, token);
    } catch (error) {
      if (error instanceof OpenStackHttpError && (error.status === 401 || error.status === 403))
        throw unauthorized();
      throw error;
    }
    if (!body?.project) throw unauthorized();
    const endpoint = cinderUrl
      ? trim(cinderUrl.replace(PROJECT_PLACEHOLDER, body.project.id))
      : endpointFromCatalog(
          body.catalog,
          ['volumev3', 'block-storage'],
          this.options.interface,
          this.options.region,
        );
    if (!endpoint) {
      throw new DomainError(
        'UPSTREAM_UNAVAILABLE',
        `No ${this.options.interface} block-storage (volumev3) endpoint in the token's service catalog.`,
      );
    }
    const until = Math.min(Date.parse(body.expires_at), Date.now() + this.options.cacheSeconds * 1000);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, { endpoint, until });
    return endpoint;
  }
}

const trim = (url: string) => url.replace(/\/+$/, '');
