import type { Db } from '../../db/client.js';

// The /v1 (Cinder) view of backups, built by PostgreSQL in one statement for list pages: a page of
// 100 backups is one query and one string, where materialising 100 rows of 25 columns through the
// ORM and mapping them field by field cost ~5 ms a page. The same mapping for single rows is
// rest-compat's `backupView`; test/volume-backups/contract.test.ts checks that both give the same
// JSON for the same backups, so neither can drift.

/** `YYYY-MM-DDTHH:MM:SS.ffffff`, naive UTC, as Cinder prints it (our timestamps are milliseconds). */
const cinderTime = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS') || '000'`;

const VIEW_FIELDS: Array<[key: string, sql: string]> = [
  ['id', 'b.id'],
  ['name', 'b.name'],
  ['description', 'b.description'],
  ['volume_id', 'b."volumeId"'],
  ['snapshot_id', 'b."snapshotId"'],
  ['status', 'b.status'],
  ['fail_reason', 'b."failReason"'],
  ['size', 'b."sizeGb"'],
  ['object_count', 'b."objectCount"'],
  ['stored_bytes', 'b."storedBytes"'],
  ['is_incremental', 'b."isIncremental"'],
  ['parent_id', 'b."parentId"'],
  [
    'has_dependent_backups',
    `EXISTS (SELECT 1 FROM "VolumeBackup" c WHERE c."parentId" = b.id AND c.status <> 'deleting')`,
  ],
  ['container', 'b.container'],
  ['availability_zone', 'b."availabilityZone"'],
  ['data_timestamp', cinderTime('b."dataTimestamp"')],
  ['created_at', cinderTime('b."createdAt"')],
  ['updated_at', cinderTime('b."updatedAt"')],
  ['project_id', 'b."projectId"'],
  ['user_id', 'b."userId"'],
  ['metadata', 'b.metadata'],
  ['progress', 'b.progress'],
  ['links', `json_build_array(json_build_object('href', $2 || b.id::text, 'rel', 'self'))`],
];

const RENDER_SQL = `SELECT coalesce(json_agg(json_build_object(${VIEW_FIELDS.map(
  ([key, sql]) => `'${key}', ${sql}`,
).join(', ')}) ORDER BY u.ord), '[]')::text AS body
FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord) JOIN "VolumeBackup" b ON b.id = u.id`;

/** The JSON array of the views of `ids`, in that order (ids that no longer exist are left out). */
export async function renderBackupViews(prisma: Db, ids: string[], baseUrl: string): Promise<string> {
  if (ids.length === 0) return '[]';
  const rows = await prisma.$queryRawUnsafe<Array<{ body: string }>>(
    RENDER_SQL,
    ids,
    `${baseUrl}/v1/volume/backup/`,
  );
  return rows[0]?.body ?? '[]';
}
