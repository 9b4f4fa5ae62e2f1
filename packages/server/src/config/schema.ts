import { z } from 'zod';

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
        'Port of the embedded PostgreSQL on 127.0.0.1 (0: any free port). Ignored with `DATABASE_URL`.',
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
    REPOSITORY_URL: repositoryUrl
      .optional()
      .describe('The default backup repository. Default: `file://$DATA_DIR/repository`.'),
    REPOSITORY_CONTAINERS: jsonObjectOfUrls
      .optional()
      .describe(
        'JSON object mapping a backup `container` to its own repository URL; other containers are sub-paths of `REPOSITORY_URL`.',
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
