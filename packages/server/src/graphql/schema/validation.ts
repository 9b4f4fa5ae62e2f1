import type { z } from 'zod';
import { badRequest } from '../../domain/errors.js';
import { metadata, name255 } from '../../domain/inputs.js';

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

/** A name or description: up to 255 characters, null or absent allowed. */
export const optionalName = name255.nullish();

/** The fields every update mutation takes, checked; an absent name or description stays as it is. */
export function checkedUpdate(input: { name?: unknown; description?: unknown; metadata?: unknown }) {
  return {
    name: input.name === undefined ? undefined : check(optionalName, input.name, 'input.name'),
    description:
      input.description === undefined
        ? undefined
        : check(optionalName, input.description, 'input.description'),
    metadata: check(metadata.optional(), input.metadata ?? undefined, 'input.metadata'),
  };
}
