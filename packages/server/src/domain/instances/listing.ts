import type { Caller } from '../../auth/caller.js';
import type { InstanceArtifactStatus } from '../../generated/prisma/client.js';
import { type PageRequest, parseSort } from '../pagination.js';
import { lookupScope, listScope as projectScope } from '../visibility.js';

// Listing, scoping and naming shared by instance snapshots and instance backups.

export const INSTANCE_ARTIFACT_SORT_KEYS = [
  'created_at',
  'updated_at',
  'name',
  'status',
  'id',
  'instance_id',
] as const;
export type InstanceArtifactSortKey = (typeof INSTANCE_ARTIFACT_SORT_KEYS)[number];

const SORT_COLUMNS: Record<InstanceArtifactSortKey, { name: string; nullable: boolean }> = {
  created_at: { name: 'createdAt', nullable: false },
  updated_at: { name: 'updatedAt', nullable: false },
  name: { name: 'name', nullable: true },
  status: { name: 'status', nullable: false },
  id: { name: 'id', nullable: false },
  instance_id: { name: 'instanceId', nullable: false },
};

export interface ListInstanceArtifactsQuery {
  page: PageRequest<InstanceArtifactSortKey>;
  status?: InstanceArtifactStatus;
  instanceId?: string;
  name?: string;
  allTenants?: boolean;
}

export function parseInstanceArtifactSort(raw: { sort?: string; sort_key?: string; sort_dir?: string }) {
  return parseSort(raw, INSTANCE_ARTIFACT_SORT_KEYS, { key: 'created_at', dir: 'desc' });
}

/** The project scope of a list (all projects: admin only) and its filters, as a Prisma `where`. */
export function listScope(caller: Caller, query: ListInstanceArtifactsQuery) {
  const scope = projectScope(caller, query.allTenants);
  const filters = {
    ...scope,
    ...(query.status ? { status: query.status } : {}),
    ...(query.instanceId ? { instanceId: query.instanceId } : {}),
    ...(query.name !== undefined ? { name: query.name } : {}),
  };
  return { scope, filters };
}

/** The column the query sorts by. */
export function sortColumn(query: ListInstanceArtifactsQuery) {
  return SORT_COLUMNS[query.page.sort.key];
}

/** Where a caller may see a record by id: its own project's (an admin: any). */
export const visibleTo = (caller: Caller) => lookupScope(caller);

/** Names of what an instance capture makes in OpenStack: unique, so a retried step finds them. */
export const captureNames = {
  /** The caller's Cinder snapshot of one volume for an instance snapshot. */
  snapshotOfVolume: (instanceSnapshotId: string, volumeId: string) =>
    `instance-snapshot-${instanceSnapshotId}-${volumeId}`,
  /** The caller's Glance image of an image-backed root disk for an instance snapshot. */
  snapshotImage: (instanceSnapshotId: string) => `instance-snapshot-${instanceSnapshotId}`,
  /** The service's temporary Glance image of an image-backed root disk for an instance backup. */
  backupImage: (imageBackupId: string) => `backup-service-${imageBackupId}`,
};
