import { z } from 'zod';
import { limitParam, link, metadata, name255, queryBoolean, uuid } from './common.js';

// Requests: strict about unknown keys inside the resource object (400 naming the key), lenient
// about the envelope, as Cinder is.

export const createBackupRequest = z.object({
  backup: z.strictObject(
    {
      volume_id: uuid,
      name: name255.nullish(),
      description: name255.nullish(),
      incremental: z.boolean({ error: 'expected true or false' }).optional(),
      snapshot_id: uuid.nullish(),
      metadata: metadata.optional(),
      container: name255.nullish(),
      force: z.boolean({ error: 'expected true or false' }).optional(),
      availability_zone: name255.nullish(),
    },
    { error: 'expected an object' },
  ),
});

/** `POST /volume/backup/import` (extension, admin): `{"import": {"container": <name> | null}}` or `{}`. */
export const importRepositoryRequest = z.object({
  import: z.strictObject({ container: name255.nullish() }, { error: 'expected an object' }).nullish(),
});

export const updateBackupArgs = z.strictObject(
  { name: name255.nullish(), description: name255.nullish(), metadata: metadata.optional() },
  { error: 'expected an object' },
);
export const restoreBackupArgs = z.strictObject(
  { volume_id: uuid.nullish(), name: name255.nullish() },
  { error: 'expected an object' },
);
export const emptyArgs = z.union([z.strictObject({}), z.null()], { error: 'expected {}' });
export const resetStatusArgs = z.strictObject(
  { status: z.enum(['available', 'error'], { error: 'expected available or error' }) },
  { error: 'expected an object' },
);

/** `POST /volume/backup/<id>/action`: exactly one action. */
export const backupActions = {
  update: updateBackupArgs,
  restore: restoreBackupArgs,
  verify: emptyArgs,
  reset_status: resetStatusArgs,
  'os-reset_status': resetStatusArgs,
  'os-force_delete': emptyArgs,
} as const;
export type BackupActionName = keyof typeof backupActions;

export const listBackupsQuery = z.strictObject({
  limit: limitParam.optional(),
  marker: uuid.optional(),
  sort: z.string().optional(),
  sort_key: z.string().optional(),
  sort_dir: z.string().optional(),
  status: z
    .enum(['creating', 'available', 'deleting', 'restoring', 'error', 'error_deleting'], {
      error: 'expected a backup status: creating, available, deleting, restoring, error or error_deleting',
    })
    .optional(),
  volume_id: uuid.optional(),
  name: z.string().optional(),
  all_tenants: queryBoolean.optional(),
});

// Responses (also the source of /v1/openapi.json).

export const backupView = z.object({
  id: uuid,
  name: z.string().nullable(),
  description: z.string().nullable(),
  volume_id: z.string(),
  snapshot_id: z.string().nullable(),
  status: z.enum(['creating', 'available', 'deleting', 'restoring', 'error', 'error_deleting']),
  fail_reason: z.string().nullable(),
  size: z.number().int(),
  object_count: z.number().int(),
  stored_bytes: z.number().int(),
  is_incremental: z.boolean(),
  parent_id: z.string().nullable(),
  has_dependent_backups: z.boolean(),
  container: z.string().nullable(),
  availability_zone: z.string().nullable(),
  data_timestamp: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string().nullable(),
  project_id: z.string(),
  user_id: z.string(),
  metadata: z.record(z.string(), z.string()),
  progress: z.number().int().min(0).max(100),
  links: z.array(link),
});
export type BackupView = z.infer<typeof backupView>;

export const backupResponse = z.object({ backup: backupView });
export const backupIdResponse = z.object({ backup: z.object({ id: uuid }) });
export const backupListResponse = z.object({
  backups: z.array(backupView),
  backups_links: z.array(link).optional(),
});
export const restoreResponse = z.object({
  restore: z.object({ backup_id: uuid, volume_id: uuid, volume_name: z.string().nullable() }),
});
