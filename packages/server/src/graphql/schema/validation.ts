import type { z } from 'zod';
import { badRequest } from '../../domain/errors.js';

/**
 * GraphQL checks types; these check values (UUIDs, 255-char names, metadata) with the same rules as
 * tRPC, and fail as a BAD_REQUEST naming the argument.
 */
export function check<S extends z.ZodType>(schema: S, value: unknown, argument: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [argument, ...(issue?.path ?? []).map(String)].join('.');
  throw badRequest(`Invalid input for ${path}: ${issue?.message ?? 'invalid value'}.`);
}
