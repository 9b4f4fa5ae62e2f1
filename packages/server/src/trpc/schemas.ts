import { z } from 'zod';
import { uuid } from '../domain/inputs.js';

// Inputs of the tRPC procedures: strict objects (an unknown key is a 400 naming it), camelCase.

export { metadata, name255, sizeGb, uuid } from '../domain/inputs.js';
export const sortDirection = z.enum(['asc', 'desc']);

/** `limit` (1–1000, default 100) and the `marker` a previous page answered as `nextMarker`. */
export const pageFields = {
  limit: z.number().int().min(1).max(1000).default(100),
  marker: uuid.optional(),
};

export const byId = z.strictObject({ id: uuid });
