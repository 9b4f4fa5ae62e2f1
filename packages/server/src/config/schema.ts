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

export const configSchema = z.object({
  PORT: port
    .default(8110)
    .describe('Port of the API (`/v1`, `/trpc`, `/graphql`, `/healthz`, `/readyz`, `/metrics`).'),
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
  SHUTDOWN_TIMEOUT_MS: positiveInt('a whole number of milliseconds')
    .default(10_000)
    .describe('On SIGTERM: how long in-flight requests and job steps may take before the process exits.'),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigVariable = keyof typeof configSchema.shape;

export const configVariables = Object.keys(configSchema.shape) as ConfigVariable[];
