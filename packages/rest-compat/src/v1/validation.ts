import { badRequest } from '@backup-service/server';
import type { z } from 'zod';

/** Parses with a zod schema; a failure is a 400 naming the field and what is wrong with it. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw badRequest(`Invalid ${what}.`);
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `'${k}'`).join(', ');
    const where = path ? ` in ${path}` : '';
    throw badRequest(
      `Invalid input for ${what}: Additional properties are not allowed (${keys} ${issue.keys.length > 1 ? 'were' : 'was'} unexpected)${where}.`,
    );
  }
  if (issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined) {
    throw badRequest(`Invalid input for ${what}: '${path}' is a required property.`);
  }
  throw badRequest(`Invalid input for field/attribute ${path || what}: ${issue.message}.`);
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
