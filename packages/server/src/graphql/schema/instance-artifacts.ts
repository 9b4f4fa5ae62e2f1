import { uuid } from '../../domain/inputs.js';
import { listScope } from '../../domain/visibility.js';
import { InstanceArtifactStatus } from '../../generated/prisma/enums.js';
import { builder } from '../builder.js';
import { direction, SortDirection } from './scalars.js';
import { check } from './validation.js';

// What instance snapshots and instance backups share: their statuses, filters and sorting.

export const InstanceArtifactStatusEnum = builder.enumType(InstanceArtifactStatus, {
  name: 'InstanceArtifactStatus',
});

export const InstanceArtifactFilter = builder.inputType('InstanceArtifactFilter', {
  fields: (t) => ({
    status: t.field({ type: InstanceArtifactStatusEnum }),
    instanceId: t.string(),
    name: t.string(),
  }),
});

const InstanceArtifactSortField = builder.enumType('InstanceArtifactSortField', {
  values: ['CREATED_AT', 'UPDATED_AT', 'NAME', 'STATUS', 'INSTANCE_ID'] as const,
});
const SORT_COLUMNS = {
  CREATED_AT: 'createdAt',
  UPDATED_AT: 'updatedAt',
  NAME: 'name',
  STATUS: 'status',
  INSTANCE_ID: 'instanceId',
} as const;

export const InstanceArtifactOrder = builder.inputType('InstanceArtifactOrder', {
  fields: (t) => ({
    field: t.field({ type: InstanceArtifactSortField, required: true }),
    direction: t.field({ type: SortDirection, defaultValue: 'DESC' }),
  }),
});

export interface InstanceArtifactListArgs {
  allTenants?: boolean | null;
  filter?: {
    status?: InstanceArtifactStatus | null;
    instanceId?: string | null;
    name?: string | null;
  } | null;
  orderBy?: { field: keyof typeof SORT_COLUMNS; direction?: 'ASC' | 'DESC' | null } | null;
}

export function instanceArtifactWhere(
  caller: Parameters<typeof listScope>[0],
  args: InstanceArtifactListArgs,
) {
  const filter = args.filter ?? {};
  return {
    ...listScope(caller, args.allTenants ?? false),
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.instanceId ? { instanceId: check(uuid, filter.instanceId, 'filter.instanceId') } : {}),
    ...(filter.name != null ? { name: filter.name } : {}),
  };
}

export function instanceArtifactOrder(args: InstanceArtifactListArgs) {
  const dir = direction(args.orderBy?.direction);
  return [{ [SORT_COLUMNS[args.orderBy?.field ?? 'CREATED_AT']]: dir }, { id: dir }];
}
