import { metadata, uuid } from '../../domain/inputs.js';
import { listScope, lookupScope } from '../../domain/visibility.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { VolumeBackupStatus } from '../../generated/prisma/enums.js';
import { builder } from '../builder.js';
import { parseId } from '../ids.js';
import { direction, SortDirection } from './scalars.js';
import { check, checkedUpdate, optionalName } from './validation.js';

export const VolumeBackupStatusEnum = builder.enumType(VolumeBackupStatus, { name: 'VolumeBackupStatus' });

export const VolumeBackupNode = builder.prismaNode('VolumeBackup', {
  description: 'A backup of a volume in a deduplicating repository (the /v1 backup resource).',
  id: { field: 'id' },
  // A node lookup sees what /v1 sees: the caller's project's (an admin's: any); else null.
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...lookupScope(ctx.caller) }),
  fields: (t) => ({
    uuid: t.exposeString('id', { description: 'The id /v1 and tRPC use.' }),
    name: t.exposeString('name', { nullable: true }),
    description: t.exposeString('description', { nullable: true }),
    volumeId: t.exposeString('volumeId'),
    snapshotId: t.exposeString('snapshotId', { nullable: true }),
    status: t.expose('status', { type: VolumeBackupStatusEnum }),
    failReason: t.exposeString('failReason', { nullable: true }),
    sizeGb: t.exposeInt('sizeGb', { description: "The volume's size in GiB, as in Cinder." }),
    objectCount: t.exposeInt('objectCount'),
    storedBytes: t.float({
      description: 'What this backup added to the repository (new chunks, after compression).',
      select: { storedBytes: true },
      resolve: (backup) => Number(backup.storedBytes),
    }),
    logicalBytes: t.float({
      description: 'Non-zero bytes of the volume the backup describes.',
      select: { logicalBytes: true },
      resolve: (backup) => Number(backup.logicalBytes),
    }),
    isIncremental: t.exposeBoolean('isIncremental'),
    parent: t.relation('parent', { nullable: true, description: 'The backup this incremental built on.' }),
    hasDependentBackups: t.boolean({
      select: { _count: { select: { children: { where: { status: { not: 'deleting' } } } } } },
      resolve: (backup) => backup._count.children > 0,
    }),
    container: t.exposeString('container', { nullable: true }),
    availabilityZone: t.exposeString('availabilityZone', { nullable: true }),
    dataTimestamp: t.expose('dataTimestamp', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    projectId: t.exposeString('projectId'),
    userId: t.exposeString('userId'),
    metadata: t.expose('metadata', { type: 'JSON' }),
    progress: t.exposeInt('progress', { description: '0–100.' }),
    jobs: t.relation('jobs', {
      description: 'The jobs that worked on this backup, newest first.',
      query: { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] },
    }),
    instanceBackup: t.relation('instanceBackup', { nullable: true }),
  }),
});

const VolumeBackupFilter = builder.inputType('VolumeBackupFilter', {
  fields: (t) => ({
    status: t.field({ type: VolumeBackupStatusEnum }),
    volumeId: t.string(),
    name: t.string(),
  }),
});

const VolumeBackupSortField = builder.enumType('VolumeBackupSortField', {
  values: ['CREATED_AT', 'UPDATED_AT', 'NAME', 'STATUS', 'SIZE', 'VOLUME_ID'] as const,
});
const SORT_COLUMNS = {
  CREATED_AT: 'createdAt',
  UPDATED_AT: 'updatedAt',
  NAME: 'name',
  STATUS: 'status',
  SIZE: 'sizeGb',
  VOLUME_ID: 'volumeId',
} as const;

const VolumeBackupOrder = builder.inputType('VolumeBackupOrder', {
  fields: (t) => ({
    field: t.field({ type: VolumeBackupSortField, required: true }),
    direction: t.field({ type: SortDirection, defaultValue: 'DESC' }),
  }),
});

/** The `where` of a listing: the caller's scope (all_tenants: admin only) and the filter. */
function listWhere(
  caller: Parameters<typeof listScope>[0],
  args: {
    allTenants?: boolean | null;
    filter?: { status?: VolumeBackupStatus | null; volumeId?: string | null; name?: string | null } | null;
  },
): Prisma.VolumeBackupWhereInput {
  const filter = args.filter ?? {};
  return {
    ...listScope(caller, args.allTenants ?? false),
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.volumeId ? { volumeId: check(uuid, filter.volumeId, 'filter.volumeId') } : {}),
    ...(filter.name != null ? { name: filter.name } : {}),
  };
}

builder.queryFields((t) => ({
  volumeBackups: t.prismaConnection(
    {
      type: 'VolumeBackup',
      cursor: 'id',
      description: "The caller's project's backups (every project's with allTenants: admin).",
      args: {
        filter: t.arg({ type: VolumeBackupFilter }),
        orderBy: t.arg({ type: VolumeBackupOrder }),
        allTenants: t.arg.boolean(),
      },
      complexity: (args) => ({ field: 1, multiplier: args.first ?? args.last ?? 20 }),
      resolve: (query, _root, args, ctx) => {
        const dir = direction(args.orderBy?.direction);
        const column = SORT_COLUMNS[args.orderBy?.field ?? 'CREATED_AT'];
        return ctx.prisma.volumeBackup.findMany({
          ...query,
          where: listWhere(ctx.caller, args),
          orderBy: [{ [column]: dir }, { id: dir }],
        });
      },
      totalCount: (_connection, args, ctx) =>
        ctx.prisma.volumeBackup.count({ where: listWhere(ctx.caller, args) }),
    },
    {},
  ),

  volumeBackup: t.prismaField({
    type: 'VolumeBackup',
    description: 'One backup by its global id or UUID (NOT_FOUND when it is not visible to the caller).',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'VolumeBackup');
      // The domain's lookup decides visibility (404 as /v1); the planned selection is read after it.
      await ctx.core.volumeBackups.get(ctx.caller, id);
      return ctx.prisma.volumeBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));

const CreateVolumeBackupInput = builder.inputType('CreateVolumeBackupInput', {
  fields: (t) => ({
    volumeId: t.string({ required: true }),
    name: t.string(),
    description: t.string(),
    incremental: t.boolean({ description: 'Default: true when an earlier backup of the volume exists.' }),
    snapshotId: t.string({
      description: 'Back up this Cinder snapshot of the volume instead of its current data.',
    }),
    metadata: t.field({ type: 'JSON' }),
    container: t.string(),
    availabilityZone: t.string(),
  }),
});

const UpdateVolumeBackupInput = builder.inputType('UpdateVolumeBackupInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    description: t.string(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

const RestoreResult = builder
  .objectRef<{ backupId: string; volumeId: string; volumeName: string | null }>('VolumeBackupRestore')
  .implement({
    fields: (t) => ({
      backupId: t.exposeString('backupId'),
      volumeId: t.exposeString('volumeId'),
      volumeName: t.exposeString('volumeName', { nullable: true }),
    }),
  });

const ResetStatus = builder.enumType('VolumeBackupResetStatus', { values: ['available', 'error'] as const });

builder.mutationFields((t) => ({
  createVolumeBackup: t.prismaField({
    type: 'VolumeBackup',
    args: { input: t.arg({ type: CreateVolumeBackupInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const backup = await ctx.core.volumeBackups.create(ctx.caller, {
        volume_id: check(uuid, input.volumeId, 'input.volumeId'),
        name: check(optionalName, input.name, 'input.name'),
        description: check(optionalName, input.description, 'input.description'),
        incremental: input.incremental ?? undefined,
        snapshot_id: check(uuid.nullish(), input.snapshotId, 'input.snapshotId'),
        metadata: check(metadata.optional(), input.metadata ?? undefined, 'input.metadata'),
        container: check(optionalName, input.container, 'input.container'),
        availability_zone: check(optionalName, input.availabilityZone, 'input.availabilityZone'),
      });
      return ctx.prisma.volumeBackup.findUniqueOrThrow({ ...query, where: { id: backup.id } });
    },
  }),

  updateVolumeBackup: t.prismaField({
    type: 'VolumeBackup',
    args: { input: t.arg({ type: UpdateVolumeBackupInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const id = parseId(String(input.id), 'VolumeBackup');
      await ctx.core.volumeBackups.update(ctx.caller, id, checkedUpdate(input));
      return ctx.prisma.volumeBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),

  restoreVolumeBackup: t.field({
    type: RestoreResult,
    description:
      'Restores into an existing available volume that is large enough, or (no volumeId) a new one.',
    args: { id: t.arg.id({ required: true }), volumeId: t.arg.string(), name: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const restore = await ctx.core.volumeBackups.restore(
        ctx.caller,
        parseId(String(args.id), 'VolumeBackup'),
        {
          volume_id: check(uuid.nullish(), args.volumeId, 'volumeId'),
          name: check(optionalName, args.name, 'name'),
        },
      );
      return { backupId: restore.backup_id, volumeId: restore.volume_id, volumeName: restore.volume_name };
    },
  }),

  verifyVolumeBackup: t.prismaField({
    type: 'VolumeBackup',
    description: 'Re-reads every chunk; a damaged backup becomes error naming the chunks.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'VolumeBackup');
      await ctx.core.volumeBackups.verify(ctx.caller, id);
      return ctx.prisma.volumeBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),

  resetVolumeBackupStatus: t.prismaField({
    type: 'VolumeBackup',
    description: 'Admin only.',
    args: { id: t.arg.id({ required: true }), status: t.arg({ type: ResetStatus, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'VolumeBackup');
      await ctx.core.volumeBackups.resetStatus(ctx.caller, id, args.status);
      return ctx.prisma.volumeBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),

  deleteVolumeBackup: t.field({
    type: VolumeBackupNode,
    description:
      'The backup shows deleting until it is gone. force (admin): also while creating, cancelling its job.',
    args: { id: t.arg.id({ required: true }), force: t.arg.boolean() },
    resolve: (_root, args, ctx) =>
      ctx.core.volumeBackups.delete(ctx.caller, parseId(String(args.id), 'VolumeBackup'), {
        force: args.force ?? false,
      }),
  }),
}));
