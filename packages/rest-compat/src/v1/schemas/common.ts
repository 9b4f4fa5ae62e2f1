import { z } from 'zod';

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

/** Query booleans as OpenStack writes them. */
export const queryBoolean = z
  .enum(['1', '0', 'true', 'false', 'True', 'False', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => ['1', 'true', 'True', 'yes'].includes(v));

export const limitParam = z
  .string()
  .regex(/^\d+$/, { error: 'limit must be a non-negative integer' })
  .transform(Number);

export const link = z.object({ href: z.string(), rel: z.string() });
