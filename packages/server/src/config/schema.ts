import { z } from 'zod';
import { parseRepositoryKey, readRepositoryKeyFile } from '../dataplane/crypto.js';

// Every setting the service reads, in one place. The README's configuration table is checked against
// this list by a test, so a variable cannot be added without being documented.

const port = z.coerce
  .number({ error: 'expected a port number from 1 to 65535' })
  .int({ error: 'expected a port number from 1 to 65535' })
  .min(1, { error: 'expected a port number from 1 to 65535' })
  .max(65535, { error: 'expected a port number from 1 to 65535' });

const portOrZero = z.coerce
  .number({ error: 'expected a port number from 0 to 65535' })
  .int({ error: 'expected a port number from 0 to 65535' })
  .min(0, { error: 'expected a port number from 0 to 65535' })
  .max(65535, { error: 'expected a port number from 0 to 65535' });

const positiveInt = (what: string) =>
  z.coerce
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .positive({ error: `expected ${what}` });

const postgresUrl = z
  .string()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'postgresql:' || url.protocol === 'postgres:') && url.hostname !== '';
      } catch {
        return false;
      }
    },
    { error: 'expected a URL of the form postgresql://user:password@host:5432/database' },
  )
  .transform((value) => value.replace(/^postgres:/, 'postgresql:'));

const url = (what: string) =>
  z.string().refine(
    (value) => {
      try {
        return ['http:', 'https:'].includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { error: `expected ${what} (an http:// or https:// URL)` },
  );

const repositoryUrl = z.string().refine(
  (value) => {
    try {
      return ['file:', 's3:', 'swift:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  },
  { error: 'expected a repository URL: file:///path, s3://bucket/prefix or swift://container/prefix' },
);

const jsonObjectOfUrls = z
  .string()
  .transform((value, ctx) => {
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        return parsed as Record<string, string>;
    } catch {}
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object of container name to repository URL' });
    return z.NEVER;
  })
  .pipe(z.record(z.string(), repositoryUrl));

export const configSchema = z
  .object({
    PORT: portOrZero
      .default(8110)
      .describe(
        'Port of the API (`/v1`, `/trpc`, `/graphql`, `/healthz`, `/readyz`, `/metrics`); 0: any free port.',
      ),
    HOST: z.string().min(1).default('0.0.0.0').describe('Address the API listens on.'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info')
      .describe('pino log level.'),
    DATA_DIR: z
      .string()
      .min(1)
      .default('./data')
      .describe('Where the embedded default keeps its state: `pg/` (PostgreSQL), `repository/`, `sim/`.'),
    DATABASE_URL: postgresUrl
      .optional()
      .describe(
        'PostgreSQL of production (several replicas may share it). Unset: the embedded PostgreSQL in `$DATA_DIR/pg`.',
      ),
    EMBEDDED_PG_PORT: portOrZero
      .default(0)
      .describe(
        'Port of the embedded PostgreSQL on 127.0.0.1 (0: a free one below the ephemeral range and none of the ports configured here, another tried if it is taken before the server binds it). Ignored with `DATABASE_URL`.',
      ),
    OS_AUTH_URL: url('the Keystone v3 URL, e.g. http://keystone:5000/v3')
      .optional()
      .describe(
        'Keystone of the cloud the service runs beside. Unset: the built-in OpenStack simulator (embedded default).',
      ),
    OS_USERNAME: z
      .string()
      .min(1)
      .default('backup')
      .describe("The service user's name (it needs the admin role)."),
    OS_PASSWORD: z
      .string()
      .min(1)
      .optional()
      .describe("The service user's password. Required with `OS_AUTH_URL`."),
    OS_PROJECT_NAME: z.string().min(1).default('service').describe("The service user's project."),
    OS_USER_DOMAIN_NAME: z.string().min(1).default('Default').describe("The service user's domain."),
    OS_PROJECT_DOMAIN_NAME: z.string().min(1).default('Default').describe("The service project's domain."),
    OS_REGION_NAME: z
      .string()
      .min(1)
      .optional()
      .describe('Region of the catalog endpoints to use (unset: the first).'),
    OS_INTERFACE: z
      .enum(['public', 'internal', 'admin'], { error: 'expected public, internal or admin' })
      .default('public')
      .describe('Which catalog endpoints to call.'),
    CINDER_URL: url('a Cinder v3 endpoint such as http://cinder:8776/v3/%(project_id)s')
      .optional()
      .describe(
        "Cinder endpoint instead of the catalog's; `%(project_id)s` is replaced by the caller's project.",
      ),
    OPENSTACK_TIMEOUT_MS: positiveInt('a whole number of milliseconds')
      .default(30_000)
      .describe('Timeout of one call to an OpenStack API (passthrough: answered 504 when exceeded).'),
    OPENSTACK_MAX_ATTEMPTS: positiveInt('a whole number of attempts')
      .default(5)
      .describe(
        'Attempts of an idempotent OpenStack call on 5xx, timeouts and dropped connections (capped exponential backoff with jitter).',
      ),
    TOKEN_CACHE_SECONDS: positiveInt('a whole number of seconds')
      .default(300)
      .describe(
        'How long a validated caller token is trusted without asking Keystone again (never past its expiry).',
      ),
    SIM_KEYSTONE_PORT: port.default(5000).describe('Embedded default only: port of the simulated Keystone.'),
    SIM_CINDER_PORT: port.default(8776).describe('Embedded default only: port of the simulated Cinder.'),
    SIM_NOVA_PORT: port.default(8774).describe('Embedded default only: port of the simulated Nova.'),
    SIM_GLANCE_PORT: port.default(9292).describe('Embedded default only: port of the simulated Glance.'),
    GATEWAY_PORT: portOrZero
      .default(8080)
      .describe(
        'Port of the reference API gateway (`/v1/block/…`, `/v1/compute/…`; seed §1.4, §2.4) that `pnpm start` runs beside the API; 0: not started. `pnpm gateway` runs it alone (there 0: any free port).',
      ),
    GATEWAY_BACKUP_URL: url('the backup service base URL, e.g. http://api.zone:8110')
      .optional()
      .describe(
        'The backup service the gateway forwards to (without `/v1`). Default: this service (`pnpm start`), or `http://127.0.0.1:$PORT` (`pnpm gateway`).',
      ),
    STORAGE_DRIVER: z
      .enum(['file', 'rbd'], { error: 'expected file or rbd' })
      .default('file')
      .describe('Where Cinder keeps volume data: `file` (image files in `FILE_DRIVER_DIR`) or `rbd` (Ceph).'),
    FILE_DRIVER_DIR: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The `file` driver's directory of `volume-<id>` / `snapshot-<id>` files. Default with the simulator: `$DATA_DIR/sim/volumes`.",
      ),
    RBD_POOL: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, { error: 'expected a Ceph pool name' })
      .default('volumes')
      .describe(
        "The `rbd` driver's pool: Cinder's `rbd_pool` (images `volume-<id>`, snapshots `snapshot-<id>`).",
      ),
    CEPH_CONF: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The `rbd` driver's ceph.conf (`rbd --conf`). Unset: Ceph's default (`/etc/ceph/ceph.conf`).",
      ),
    CEPH_CLIENT: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, { error: 'expected a Ceph client id such as cinder (for client.cinder)' })
      .optional()
      .describe(
        "The `rbd` driver's Ceph client id (`rbd --id`; e.g. `cinder`; it needs `profile rbd` on `RBD_POOL`). Unset: `admin`.",
      ),
    CEPH_KEYRING: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The `rbd` driver's keyring (`rbd --keyring`). Unset: Ceph's default (`/etc/ceph/ceph.client.<id>.keyring`).",
      ),
    STAGING_DIR: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where an instance backup stages an image-backed root disk's data (one image at a time per job). Default: `$DATA_DIR/staging`.",
      ),
    REPOSITORY_URL: repositoryUrl
      .optional()
      .describe('The default backup repository. Default: `file://$DATA_DIR/repository`.'),
    REPOSITORY_CONTAINERS: jsonObjectOfUrls
      .optional()
      .describe(
        'JSON object mapping a backup `container` to its own repository URL; other containers are sub-paths of `REPOSITORY_URL`.',
      ),
    REPOSITORY_KEY: z
      .string()
      .refine(
        (value) => {
          try {
            parseRepositoryKey(value);
            return true;
          } catch {
            return false;
          }
        },
        { error: 'expected a 32-byte key as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)' },
      )
      .optional()
      .describe(
        'Encryption at rest: the repository key (32 bytes as 64 hex digits or base64). Repositories created with it are encrypted (AES-256-GCM) and need it. Never stored in the database. See "Encryption at rest".',
      ),
    REPOSITORY_KEY_FILE: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A file holding the repository key (as `REPOSITORY_KEY`, or 32 raw bytes) instead of `REPOSITORY_KEY`.',
      ),
    S3_ENDPOINT: url('an S3 endpoint, e.g. http://rgw:7480')
      .optional()
      .describe('Endpoint of `s3://` repositories on a non-AWS S3 (Ceph RGW, MinIO, …). Unset: AWS.'),
    S3_REGION: z.string().min(1).default('us-east-1').describe('Region of `s3://` repositories (SigV4).'),
    S3_ACCESS_KEY_ID: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Access key of `s3://` repositories. Unset: the AWS SDK's default chain (`AWS_ACCESS_KEY_ID`, profiles, roles).",
      ),
    S3_SECRET_ACCESS_KEY: z.string().min(1).optional().describe('Secret key of `s3://` repositories.'),
    S3_FORCE_PATH_STYLE: z
      .enum(['true', 'false'], { error: 'expected true or false' })
      .transform((value) => value === 'true')
      .optional()
      .describe(
        'Path-style S3 requests (`endpoint/bucket/key`). Default: true with `S3_ENDPOINT`, else false.',
      ),
    SWIFT_AUTH_URL: url('the Keystone v3 URL of the object storage, e.g. http://keystone:5000/v3')
      .optional()
      .describe(
        "Keystone of `swift://` repositories when they live in another cloud than the one protected. Unset: the service's own Keystone session (`OS_*`).",
      ),
    SWIFT_USERNAME: z
      .string()
      .min(1)
      .optional()
      .describe('User of `SWIFT_AUTH_URL` (a member of its project).'),
    SWIFT_PASSWORD: z
      .string()
      .min(1)
      .optional()
      .describe('Password of `SWIFT_USERNAME`. Required with `SWIFT_AUTH_URL`.'),
    SWIFT_PROJECT_NAME: z.string().min(1).optional().describe('Project (Swift account) of `SWIFT_USERNAME`.'),
    SWIFT_DOMAIN_NAME: z
      .string()
      .min(1)
      .default('Default')
      .describe('Domain of `SWIFT_USERNAME` and `SWIFT_PROJECT_NAME`.'),
    SWIFT_URL: url('a Swift storage URL, e.g. http://swift:8080/v1/AUTH_%(project_id)s')
      .optional()
      .describe(
        "Swift storage URL instead of the catalog's `object-store` endpoint; `%(project_id)s` is replaced by the token's project.",
      ),
    REPOSITORY_REQUESTS: positiveInt('a whole number of requests')
      .default(16)
      .describe(
        'Requests in flight at once to one `s3://` or `swift://` repository (each retried with backoff).',
      ),
    REPOSITORY_TEMP_MAX_AGE_SECONDS: z.coerce
      .number({ error: 'expected a whole number of seconds' })
      .int({ error: 'expected a whole number of seconds' })
      .min(0, { error: 'expected a whole number of seconds' })
      .default(3600)
      .describe(
        'Garbage collection removes temporary objects (unfinished uploads of writers that crashed) older than this.',
      ),
    DATAPLANE_THREADS: z.coerce
      .number({ error: 'expected a whole number of threads' })
      .int({ error: 'expected a whole number of threads' })
      .min(0, { error: 'expected a whole number of threads' })
      .default(0)
      .describe('Worker threads hashing and compressing chunks (0: one per CPU).'),
    JOB_CONCURRENCY: positiveInt('a whole number of jobs')
      .default(4)
      .describe('Jobs one process runs at a time.'),
    JOB_LEASE_MS: positiveInt('a whole number of milliseconds')
      .default(30_000)
      .describe('A job whose worker stops renewing its lease for this long is resumed by another process.'),
    JOB_POLL_MS: positiveInt('a whole number of milliseconds')
      .default(250)
      .describe('How often an idle process looks for queued jobs.'),
    TEST_CRASH_AT: z
      .string()
      .regex(/^[a-z_]+:[a-z-]+(@0?\.\d+)?$/, {
        error: 'expected <job kind>:<step>[@<fraction>], e.g. volume_backup_create:read@0.5',
      })
      .optional()
      .describe(
        "For crash tests only: SIGKILL this process when a job reaches `<kind>:<step>` (with `@0.5`: halfway through the step's data).",
      ),
    BODY_LIMIT_BYTES: positiveInt('a whole number of bytes')
      .default(1024 * 1024)
      .describe('Largest request body the API parses (larger: 413).'),
    SHUTDOWN_TIMEOUT_MS: positiveInt('a whole number of milliseconds')
      .default(10_000)
      .describe('On SIGTERM: how long in-flight requests and job steps may take before the process exits.'),
  })
  .superRefine((config, ctx) => {
    if (config.OS_AUTH_URL && !config.OS_PASSWORD) {
      ctx.addIssue({ code: 'custom', path: ['OS_PASSWORD'], message: 'required when OS_AUTH_URL is set' });
    }
    if (config.REPOSITORY_KEY && config.REPOSITORY_KEY_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['REPOSITORY_KEY_FILE'],
        message: 'set either REPOSITORY_KEY or REPOSITORY_KEY_FILE, not both',
      });
    } else if (config.REPOSITORY_KEY_FILE) {
      try {
        readRepositoryKeyFile(config.REPOSITORY_KEY_FILE);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: ['REPOSITORY_KEY_FILE'],
          message: (error as Error).message.replace(/^REPOSITORY_KEY_FILE: /, ''),
        });
      }
    }
    if (
      config.SWIFT_AUTH_URL &&
      !(config.SWIFT_USERNAME && config.SWIFT_PASSWORD && config.SWIFT_PROJECT_NAME)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['SWIFT_USERNAME'],
        message: 'SWIFT_USERNAME, SWIFT_PASSWORD and SWIFT_PROJECT_NAME are required with SWIFT_AUTH_URL',
      });
    }
    if (Boolean(config.S3_ACCESS_KEY_ID) !== Boolean(config.S3_SECRET_ACCESS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_SECRET_ACCESS_KEY'],
        message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together',
      });
    }
    if (!config.OS_AUTH_URL && config.STORAGE_DRIVER === 'rbd') {
      ctx.addIssue({
        code: 'custom',
        path: ['STORAGE_DRIVER'],
        message: 'rbd needs OS_AUTH_URL (the built-in simulator keeps volumes in files)',
      });
    }
    if (config.OS_AUTH_URL && config.STORAGE_DRIVER === 'file' && !config.FILE_DRIVER_DIR) {
      ctx.addIssue({
        code: 'custom',
        path: ['FILE_DRIVER_DIR'],
        message: 'required when OS_AUTH_URL is set and STORAGE_DRIVER is file',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigVariable = keyof Config;

export const configShape = configSchema.shape;
export const configVariables = Object.keys(configShape) as ConfigVariable[];
