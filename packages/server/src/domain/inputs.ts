import { z } from 'zod';

// Shapes of input values the tRPC and GraphQL doors check before calling a domain service (/v1 has
// the same rules in rest-compat's schemas, with Cinder's wording): UUID ids, OpenStack's 255-char
// names and string-to-string metadata.

export const uuid = z.guid({ error: 'expected a UUID' });
export const name255 = z
  .string({ error: 'expected a string' })
  .max(255, { error: 'expected at most 255 characters' });
export const metadata = z.record(name255, name255, {
  error: 'expected an object of string keys and string values',
});
export const sizeGb = z
  .number({ error: 'expected an integer number of GiB' })
  .int({ error: 'expected an integer number of GiB' })
  .min(1, { error: 'expected at least 1 GiB' });
