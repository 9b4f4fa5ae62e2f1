import { z } from 'zod';
import { limitParam, link, metadata, name255, queryBoolean, uuid } from './common.js';

// /v1/instance/snapshot and /v1/instance/backup (seed §2, SPEC §5.5–5.6). Requests: strict inside
// the resource object, as for volume backups.

const STATUSES = ['creating', 'available', 'deleting', 'error', 'error_deleting'] as const;
const status = z.enum(STATUSES, {
  error: 'expected a status: creating, available, deleting, error or error_deleting',
});

export const createInstanceSnapshotRequest = z.object({
  snapshot: z.strictObject(
    {
      instance_id: uuid,
      name: name255.nullish(),
      description: name255.nullish(),
      metadata: metadata.optional(),
      /** Accepted (in-use volumes are always snapshotted with force). */
      force: z.boolean({ error: 'expected true or false' }).optional(),
    },
    { error: 'expected an object' },
  ),
});

export const createInstanceBackupRequest = z.object({
  backup: z.strictObject(
    {
      instance_id: uuid,
      name: name255.nullish(),
      description: name255.nullish(),
      metadata: metadata.optional(),
      container: name255.nullish(),
      incremental: z.boolean({ error: 'expected true or false' }).optional(),
      force: z.boolean({ error: 'expected true or false' }).optional(),
    },
    { error: 'expected an object' },
  ),
});

const updateArgs = z.strictObject(
  { name: name255.nullish(), description: name255.nullish(), metadata: metadata.optional() },
  { error: 'expected an object' },
);
const emptyArgs = z.union([z.strictObject({}), z.null()], { error: 'expected {}' });
const resetStatusArgs = z.strictObject(
  { status: z.enum(['available', 'error'], { error: 'expected available or error' }) },
  { error: 'expected an object' },
);

/** `POST /instance/backup/<id>/action`: exactly one action. */
export const instanceBackupActions = {
  update: updateArgs,
  verify: emptyArgs,
  reset_status: resetStatusArgs,
  'os-reset_status': resetStatusArgs,
} as const;
export type InstanceBackupActionName = keyof typeof instanceBackupActions;

export const listInstanceArtifactsQuery = z.strictObject({
  limit: limitParam.optional(),
  marker: uuid.optional(),
  sort: z.string().optional(),
  sort_key: z.string().optional(),
  sort_dir: z.string().optional(),
  status: status.optional(),
  instance_id: uuid.optional(),
  name: z.string().optional(),
  all_tenants: queryBoolean.optional(),
});

// Responses.

const common = {
  id: uuid,
  name: z.string().nullable(),
  description: z.string().nullable(),
  instance_id: z.string(),
  status: z.enum(STATUSES),
  fail_reason: z.string().nullable(),
  instance: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  updated_at: z.string().nullable(),
  project_id: z.string(),
  user_id: z.string(),
  metadata: z.record(z.string(), z.string()),
  links: z.array(link),
};

export const instanceSnapshotView = z.object({
  ...common,
  volume_snapshots: z.array(
    z.object({
      volume_id: z.string(),
      snapshot_id: z.string().nullable(),
      device: z.string().nullable(),
      boot_index: z.number().int().nullable(),
    }),
  ),
  image_id: z.string().nullable(),
});
export type InstanceSnapshotView = z.infer<typeof instanceSnapshotView>;

export const instanceBackupView = z.object({
  ...common,
  volume_backups: z.array(
    z.object({
      volume_id: z.string(),
      backup_id: z.string(),
      device: z.string().nullable(),
      boot_index: z.number().int().nullable(),
    }),
  ),
  /** The backup (restorable with POST /volume) of an image-backed root disk's data. */
  image_backup_id: z.string().nullable(),
  container: z.string().nullable(),
});
export type InstanceBackupView = z.infer<typeof instanceBackupView>;

export const instanceSnapshotResponse = z.object({ snapshot: instanceSnapshotView });
export const instanceSnapshotListResponse = z.object({
  snapshots: z.array(instanceSnapshotView),
  snapshots_links: z.array(link).optional(),
});
export const instanceBackupResponse = z.object({ backup: instanceBackupView });
export const instanceBackupListResponse = z.object({
  backups: z.array(instanceBackupView),
  backups_links: z.array(link).optional(),
});
