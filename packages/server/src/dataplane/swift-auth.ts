import { OpenStackHttp, type OpenStackHttpOptions } from '../openstack/http.js';
import {
  type EndpointInterface,
  endpointFromCatalog,
  KeystoneClient,
  type PasswordCredentials,
  ServiceSession,
} from '../openstack/keystone.js';
import type { SwiftAuth } from './swift-store.js';

export interface SwiftEndpointSettings {
  interface: EndpointInterface;
  region?: string;
  /** Storage URL instead of the catalog's `object-store` endpoint; `%(project_id)s` is replaced. */
  storageUrl?: string;
}

/** Swift access through a Keystone session (the service's own, or one of its own). */
export function swiftAuthFromSession(session: ServiceSession, settings: SwiftEndpointSettings): SwiftAuth {
  return {
    async access() {
      const token = await session.token();
      const projectId = token.body.project?.id ?? '';
      let storageUrl = settings.storageUrl?.replace(/%\((project_id|tenant_id)\)s/g, projectId);
      storageUrl ??= endpointFromCatalog(
        token.body.catalog,
        ['object-store'],
        settings.interface,
        settings.region,
      );
      if (!storageUrl) {
        throw new Error(
          `no ${settings.interface} object-store endpoint in the service catalog (set SWIFT_URL to give one)`,
        );
      }
      return { token: token.id, storageUrl: storageUrl.replace(/\/+$/, '') };
    },
    invalidate(token) {
      session.invalidate(token);
    },
  };
}

/** Swift access with credentials of its own (object storage in another cloud than the one protected). */
export function swiftAuthFromCredentials(
  settings: SwiftEndpointSettings & {
    authUrl: string;
    credentials: PasswordCredentials;
    http: OpenStackHttpOptions;
  },
): SwiftAuth & { close(): Promise<void> } {
  const http = new OpenStackHttp('keystone', settings.http);
  const session = new ServiceSession(
    new KeystoneClient(settings.authUrl.replace(/\/+$/, ''), http),
    settings.credentials,
  );
  return { ...swiftAuthFromSession(session, settings), close: () => http.close() };
}
