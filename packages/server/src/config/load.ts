import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { type Config, type ConfigVariable, configSchema, configShape } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the configuration once, at start-up: environment variables, over an optional JSON file named
 * by CONFIG_FILE (an object of the same variable names). An invalid value throws a ConfigError whose
 * message is one line naming each bad variable and what was expected.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadVariables(configSchema, env);
}

/**
 * The same for a part of the variables (a program that needs only some of them, e.g. the gateway):
 * `schema` is an object of entries of `configShape`.
 */
export function loadVariables<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const fromFile = env.CONFIG_FILE ? readConfigFile(env.CONFIG_FILE) : {};
  const raw: Record<string, string> = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    // An empty variable means "not set", as in most twelve-factor services.
    if (value !== undefined && value !== '' && key in configShape) raw[key] = value;
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '?') as ConfigVariable;
    const got = raw[variable];
    return `${variable}: ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(redact(variable, got))})`}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

function readConfigFile(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `invalid configuration: CONFIG_FILE: cannot read ${file} as JSON (${(error as Error).message})`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(
      `invalid configuration: CONFIG_FILE: expected a JSON object of variable names in ${file}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in configShape)) {
      throw new ConfigError(`invalid configuration: CONFIG_FILE: unknown variable ${key} in ${file}`);
    }
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** Secrets never reach a log line, not even an invalid one. */
function redact(variable: string, value: string): string {
  if (/PASSWORD|SECRET|KEY$/.test(variable)) return '***';
  if (variable.endsWith('_URL')) {
    try {
      const url = new URL(value);
      if (url.password) url.password = '***';
      return url.toString();
    } catch {
      return value;
    }
  }
  return value;
}
