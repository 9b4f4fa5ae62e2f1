import type { Config } from '../config/schema.js';
import type { OpenStackCloud } from '../openstack/cloud.js';
import type { OpenStackHttpOptions } from '../openstack/http.js';
import type { PasswordCredentials } from '../openstack/keystone.js';
import { parseRepositoryKey, readRepositoryKeyFile } from './crypto.js';
import type { RepositoryOptions } from './repository.js';
import type { S3Settings } from './s3-store.js';
import { swiftAuthFromCredentials, swiftAuthFromSession } from './swift-auth.js';

/** How repositories are reached and opened, from the configuration (REPOSITORY_KEY…, S3_*, SWIFT_*). */
export interface RepositorySettings {
  /** The operator's repository key; null: new repositories are not encrypted. */
  key: Buffer | null;
  s3: S3Settings;
  /** Swift through the service's own Keystone session, or credentials of its own. */
  swift: {
    storageUrl?: string;
    own?: { authUrl: string; credentials: PasswordCredentials };
  };
  /** Requests in flight per remote repository. */
  requests: number;
  /** GC removes temporary objects older than this. */
  tempObjectsMaxAgeMs: number;
}

export function repositorySettingsFromConfig(config: Config): RepositorySettings {
  const key = config.REPOSITORY_KEY
    ? parseRepositoryKey(config.REPOSITORY_KEY)
    : config.REPOSITORY_KEY_FILE
      ? readRepositoryKeyFile(config.REPOSITORY_KEY_FILE)
      : null;
  return {
    key,
    s3: {
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    },
    swift: {
      storageUrl: config.SWIFT_URL,
      own: config.SWIFT_AUTH_URL
        ? {
            authUrl: config.SWIFT_AUTH_URL,
            credentials: {
              username: config.SWIFT_USERNAME ?? '',
              password: config.SWIFT_PASSWORD ?? '',
              projectName: config.SWIFT_PROJECT_NAME ?? '',
              userDomainName: config.SWIFT_DOMAIN_NAME,
              projectDomainName: config.SWIFT_DOMAIN_NAME,
            },
          }
        : undefined,
    },
    requests: config.REPOSITORY_REQUESTS,
    tempObjectsMaxAgeMs: config.REPOSITORY_TEMP_MAX_AGE_SECONDS * 1000,
  };
}

/**
 * The data plane's repository options for these settings: Swift through `cloud`'s session unless
 * credentials of its own are given. `close` releases what was opened here.
 */
export function repositoryOptionsOf(
  settings: RepositorySettings,
  cloud: Pick<OpenStackCloud, 'session' | 'settings'>,
  onUnencrypted?: (url: string) => void,
): RepositoryOptions & { close(): Promise<void> } {
  const endpoint = {
    interface: cloud.settings.interface,
    region: cloud.settings.region,
    storageUrl: settings.swift.storageUrl,
  };
  const http: OpenStackHttpOptions = cloud.settings.http;
  const own = settings.swift.own
    ? swiftAuthFromCredentials({ ...endpoint, ...settings.swift.own, http })
    : undefined;
  return {
    key: settings.key,
    backends: {
      s3: settings.s3,
      swift: own ?? swiftAuthFromSession(cloud.session, endpoint),
      remote: { concurrency: settings.requests, maxAttempts: http.maxAttempts },
    },
    onUnencrypted,
    close: async () => {
      await own?.close();
    },
  };
}
