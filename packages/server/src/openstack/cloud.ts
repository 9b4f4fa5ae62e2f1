import type { CinderAuth } from './cinder.js';
import { CinderClient } from './cinder.js';
import { GlanceClient } from './glance.js';
import { OpenStackHttp, type OpenStackHttpOptions } from './http.js';
import {
  type EndpointInterface,
  endpointFromCatalog,
  KeystoneClient,
  type PasswordCredentials,
  type ServiceCatalog,
  ServiceSession,
} from './keystone.js';
import { type ApiAuth, NovaClient } from './nova.js';

export interface OpenStackSettings {
  authUrl: string;
  credentials: PasswordCredentials;
  interface: EndpointInterface;
  region?: string;
  /** Overrides the catalog's Cinder endpoint; `%(project_id)s` (or `%(tenant_id)s`) is replaced. */
  cinderUrl?: string;
  http: OpenStackHttpOptions;
}

export interface ServiceAccess {
  cinder: CinderAuth;
  nova: ApiAuth;
  glance: ApiAuth;
}

/** Who is calling OpenStack: a token, its project and the catalog that came with it. */
export interface TokenScope {
  token: string;
  projectId: string;
  catalog?: ServiceCatalog;
}

/**
 * The OpenStack the service runs beside: Keystone for tokens, and endpoint resolution for the
 * service's own calls (service user) and for calls made with a caller's token.
 */
export class OpenStackCloud {
  readonly keystone: KeystoneClient;
  readonly session: ServiceSession;
  readonly cinder: CinderClient;
  readonly nova: NovaClient;
  readonly glance: GlanceClient;
  private readonly clients: Array<{ close(): Promise<void> }>;

  constructor(readonly settings: OpenStackSettings) {
    const keystoneHttp = new OpenStackHttp('keystone', settings.http);
    const cinderHttp = new OpenStackHttp('cinder', settings.http);
    const novaHttp = new OpenStackHttp('nova', settings.http);
    const glanceHttp = new OpenStackHttp('glance', settings.http);
    this.keystone = new KeystoneClient(settings.authUrl.replace(/\/+$/, ''), keystoneHttp);
    this.session = new ServiceSession(this.keystone, settings.credentials);
    this.cinder = new CinderClient(cinderHttp);
    this.nova = new NovaClient(novaHttp);
    this.glance = new GlanceClient(glanceHttp, settings.http.timeoutMs);
    this.clients = [keystoneHttp, cinderHttp, novaHttp, glanceHttp, this.glance];
  }

  /** Cinder's endpoint for a scope: CINDER_URL when configured, else the scope's catalog. */
  cinderEndpoint(scope: TokenScope): string {
    if (this.settings.cinderUrl) {
      return this.settings.cinderUrl
        .replace(/%\((project_id|tenant_id)\)s/g, scope.projectId)
        .replace(/\/+$/, '');
    }
    const url = endpointFromCatalog(
      scope.catalog,
      ['volumev3', 'block-storage'],
      this.settings.interface,
      this.settings.region,
    );
    if (!url)
      throw new Error(
        `no ${this.settings.interface} block-storage (volumev3) endpoint in the service catalog`,
      );
    return url;
  }

  /** Runs `fn` with the service user's Cinder access (renewing the token once if Cinder rejects it). */
  asServiceOnCinder<T>(fn: (auth: CinderAuth) => Promise<T>): Promise<T> {
    return this.session.withToken((token) =>
      fn({
        token: token.id,
        endpoint: this.cinderEndpoint({
          token: token.id,
          projectId: token.body.project?.id ?? '',
          catalog: token.body.catalog,
        }),
      }),
    );
  }

  /** Runs `fn` with the service user's access to Cinder, Nova and Glance. */
  asService<T>(fn: (access: ServiceAccess) => Promise<T>): Promise<T> {
    return this.session.withToken((token) => {
      const scope = { token: token.id, projectId: token.body.project?.id ?? '', catalog: token.body.catalog };
      return fn({
        cinder: { token: token.id, endpoint: this.cinderEndpoint(scope) },
        nova: { token: token.id, endpoint: this.catalogEndpoint(scope, ['compute'], 'compute') },
        glance: { token: token.id, endpoint: this.catalogEndpoint(scope, ['image'], 'image') },
      });
    });
  }

  /** Nova with a caller's token (existence and ownership checks answer as Nova answers the caller). */
  novaAuthFor(scope: TokenScope): ApiAuth {
    return { token: scope.token, endpoint: this.catalogEndpoint(scope, ['compute'], 'compute') };
  }

  private catalogEndpoint(scope: TokenScope, types: string[], what: string): string {
    const url = endpointFromCatalog(scope.catalog, types, this.settings.interface, this.settings.region);
    if (!url) throw new Error(`no ${this.settings.interface} ${what} endpoint in the service catalog`);
    return url;
  }

  cinderAuthFor(scope: TokenScope): CinderAuth {
    return { token: scope.token, endpoint: this.cinderEndpoint(scope) };
  }

  async close() {
    await Promise.all(this.clients.map((client) => client.close()));
  }
}
