import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  type ObjectStore,
  openObjectStore,
  type RepositoryOptions,
  swiftAuthFromCredentials,
} from '@backup-service/server';

/**
 * Which repository backend the end-to-end tests use: TEST_REPOSITORY=file (default), s3 or swift.
 * s3 and swift need the RADOS Gateway of ../shared/openstack-env (`STEPS="… rgw" ./start.sh`):
 * S3 on TEST_S3_ENDPOINT (http://127.0.0.1:7480, access key backup/backupsecret), Swift through the
 * Keystone at TEST_SWIFT_AUTH_URL (http://127.0.0.1:5000/v3, user backup/backup on project service).
 */
export type TestBackend = 'file' | 's3' | 'swift';

export function testBackend(): TestBackend {
  const value = process.env.TEST_REPOSITORY ?? 'file';
  if (value !== 'file' && value !== 's3' && value !== 'swift') {
    throw new Error(`TEST_REPOSITORY: expected file, s3 or swift (got ${JSON.stringify(value)})`);
  }
  return value;
}

const rig = {
  s3: {
    endpoint: process.env.TEST_S3_ENDPOINT ?? 'http://127.0.0.1:7480',
    region: 'us-east-1',
    accessKeyId: process.env.TEST_S3_ACCESS_KEY ?? 'backup',
    secretAccessKey: process.env.TEST_S3_SECRET_KEY ?? 'backupsecret',
    bucket: process.env.TEST_S3_BUCKET ?? 'backup-service-tests',
  },
  swift: {
    authUrl: process.env.TEST_SWIFT_AUTH_URL ?? 'http://127.0.0.1:5000/v3',
    username: process.env.TEST_SWIFT_USERNAME ?? 'backup',
    password: process.env.TEST_SWIFT_PASSWORD ?? 'backup',
    projectName: process.env.TEST_SWIFT_PROJECT ?? 'service',
    // RGW shares one namespace between S3 buckets and Swift containers.
    container: process.env.TEST_SWIFT_CONTAINER ?? 'backup-service-tests-swift',
  },
};

export interface TestRepository {
  backend: TestBackend;
  /** The repository URL (a fresh, empty place). */
  url: string;
  /** Service configuration for the backend (S3_* or SWIFT_*). */
  env: Record<string, string>;
  /** Data plane options for the backend (no key). */
  options: RepositoryOptions;
  /** An object store on `url` (default: the repository), as the service opens it. */
  openStore(url?: string): ObjectStore;
  /** Removes every object under the repository's URL (remote backends) and closes connections. */
  close(): Promise<void>;
}

/** A fresh repository of the selected backend (`dir`: where a file repository goes). */
export function testRepository(dir: string, backend: TestBackend = testBackend()): TestRepository {
  const tag = `t-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const swiftAuth =
    backend === 'swift'
      ? swiftAuthFromCredentials({
          authUrl: rig.swift.authUrl,
          credentials: {
            username: rig.swift.username,
            password: rig.swift.password,
            projectName: rig.swift.projectName,
            userDomainName: 'Default',
            projectDomainName: 'Default',
          },
          interface: 'public',
          http: { timeoutMs: 30_000, maxAttempts: 5 },
        })
      : undefined;
  const options: RepositoryOptions = {
    backends: {
      s3: {
        endpoint: rig.s3.endpoint,
        region: rig.s3.region,
        accessKeyId: rig.s3.accessKeyId,
        secretAccessKey: rig.s3.secretAccessKey,
        forcePathStyle: true,
      },
      ...(swiftAuth ? { swift: swiftAuth } : {}),
      remote: { initialBackoffMs: 50 },
    },
  };
  const url =
    backend === 's3'
      ? `s3://${rig.s3.bucket}/${tag}`
      : backend === 'swift'
        ? `swift://${rig.swift.container}/${tag}`
        : pathToFileURL(dir).href;
  const env: Record<string, string> =
    backend === 's3'
      ? {
          S3_ENDPOINT: rig.s3.endpoint,
          S3_REGION: rig.s3.region,
          S3_ACCESS_KEY_ID: rig.s3.accessKeyId,
          S3_SECRET_ACCESS_KEY: rig.s3.secretAccessKey,
          S3_FORCE_PATH_STYLE: 'true',
        }
      : backend === 'swift'
        ? {
            SWIFT_AUTH_URL: rig.swift.authUrl,
            SWIFT_USERNAME: rig.swift.username,
            SWIFT_PASSWORD: rig.swift.password,
            SWIFT_PROJECT_NAME: rig.swift.projectName,
          }
        : {};
  const opened: ObjectStore[] = [];
  return {
    backend,
    url,
    env,
    options,
    openStore(at = url) {
      const store = openObjectStore(at, options.backends);
      opened.push(store);
      return store;
    },
    async close() {
      if (backend !== 'file') {
        const store = openObjectStore(url, options.backends);
        try {
          for await (const tmp of store.listTemporary()) await store.deleteTemporary(tmp.key).catch(() => {});
          const keys: string[] = [];
          for await (const object of store.list('')) keys.push(object.key);
          for (const key of keys) await store.delete(key).catch(() => {});
        } catch {
          // best effort: the rig may be gone
        } finally {
          await store.close?.();
        }
      }
      for (const store of opened) await store.close?.();
      await swiftAuth?.close();
    },
  };
}
