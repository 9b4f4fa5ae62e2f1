import { z } from 'zod';
import { INSTANCE_ARTIFACT_SORT_KEYS } from '../../domain/instances/listing.js';
import { pageFields, sortDirection, uuid } from '../schemas.js';

/** The list input shared by instance snapshots and instance backups. */
export const instanceArtifactListInput = z
  .strictObject({
    ...pageFields,
    sort: z
      .strictObject({ key: z.enum(INSTANCE_ARTIFACT_SORT_KEYS), dir: sortDirection })
      .default({ key: 'created_at', dir: 'desc' }),
    status: z.enum(['creating', 'available', 'deleting', 'error', 'error_deleting']).optional(),
    instanceId: uuid.optional(),
    name: z.string().optional(),
    /** Admin only: every project's. */
    allTenants: z.boolean().optional(),
  })
  .default({ limit: 100, sort: { key: 'created_at', dir: 'desc' } });

export function listQuery(input: z.output<typeof instanceArtifactListInput>) {
  return {
    page: { limit: input.limit, marker: input.marker, sort: input.sort },
    status: input.status,
    instanceId: input.instanceId,
    name: input.name,
    allTenants: input.allTenants,
  };
}
