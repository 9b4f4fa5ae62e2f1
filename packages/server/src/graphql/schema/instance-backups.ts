import { metadata, uuid } from '../../domain/inputs.js';
import { lookupScope } from '../../domain/visibility.js';
import { builder } from '../builder.js';
import { parseId } from '../ids.js';
import {
  InstanceArtifactFilter,
  InstanceArtifactOrder,
  InstanceArtifactStatusEnum,
  instanceArtifactOrder,
  instanceArtifactWhere,
} from './instance-artifacts.js';
import { check, checkedUpdate, optionalName } from './validation.js';

const VolumeBackupEntry = builder
  .objectRef<{ volumeId: string; backupId: string; device: string | null; bootIndex: number | null }>(
    'InstanceVolumeBackup',
  )
  .implement({
    fields: (t) => ({
      volumeId: t.exposeString('volumeId'),
      backupId: t.exposeString('backupId'),
      device: t.exposeString('device', { nullable: true }),
      bootIndex: t.exposeInt('bootIndex', { nullable: true }),
    }),
  });

interface StoredEntry {
  volume_id: string;
  backup_id: string;
  device: string | null;
  boot_index: number | null;
}

export const InstanceBackupNode = builder.prismaNode('InstanceBackup', {
  description: 'A volume backup of every volume of an instance, from snapshots taken together.',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...lookupScope(ctx.caller) }),
  fields: (t) => ({
    uuid: t.exposeString('id'),
    name: t.exposeString('name', { nullable: true }),
    description: t.exposeString('description', { nullable: true }),
    instanceId: t.exposeString('instanceId'),
    status: t.expose('status', { type: InstanceArtifactStatusEnum }),
    failReason: t.exposeString('failReason', { nullable: true }),
    volumeBackupEntries: t.field({
      type: [VolumeBackupEntry],
      select: { volumeBackups: true },
      resolve: (backup) =>
        (backup.volumeBackups as unknown as StoredEntry[]).map((e) => ({
          volumeId: e.volume_id,
          backupId: e.backup_id,
          device: e.device,
          bootIndex: e.boot_index,
        })),
    }),
    backups: t.relation('backups', { description: 'The volume backups themselves.' }),
    imageBackupId: t.exposeString('imageBackupId', { nullable: true }),
    container: t.exposeString('container', { nullable: true }),
    instance: t.expose('instance', { type: 'JSON', description: "The instance's description at the time." }),
    metadata: t.expose('metadata', { type: 'JSON' }),
    projectId: t.exposeString('projectId'),
    userId: t.exposeString('userId'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    jobs: t.relation('jobs', { query: { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] } }),
  }),
});

builder.queryFields((t) => ({
  instanceBackups: t.prismaConnection({
    type: 'InstanceBackup',
    cursor: 'id',
    args: {
      filter: t.arg({ type: InstanceArtifactFilter }),
      orderBy: t.arg({ type: InstanceArtifactOrder }),
      allTenants: t.arg.boolean(),
    },
    complexity: (args) => ({ field: 1, multiplier: args.first ?? args.last ?? 20 }),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.instanceBackup.findMany({
        ...query,
        where: instanceArtifactWhere(ctx.caller, args),
        orderBy: instanceArtifactOrder(args),
      }),
    totalCount: (_c, args, ctx) =>
      ctx.prisma.instanceBackup.count({ where: instanceArtifactWhere(ctx.caller, args) }),
  }),

  instanceBackup: t.prismaField({
    type: 'InstanceBackup',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'InstanceBackup');
      await ctx.core.instanceBackups.get(ctx.caller, id);
      return ctx.prisma.instanceBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));

const CreateInstanceBackupInput = builder.inputType('CreateInstanceBackupInput', {
  fields: (t) => ({
    instanceId: t.string({ required: true }),
    name: t.string(),
    description: t.string(),
    metadata: t.field({ type: 'JSON' }),
    container: t.string(),
    incremental: t.boolean({
      description: 'false: every volume in full. Default: incremental where possible.',
    }),
  }),
});

const UpdateInstanceBackupInput = builder.inputType('UpdateInstanceBackupInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    description: t.string(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

const ResetStatus = builder.enumType('InstanceBackupResetStatus', {
  values: ['available', 'error'] as const,
});

builder.mutationFields((t) => ({
  createInstanceBackup: t.prismaField({
    type: 'InstanceBackup',
    args: { input: t.arg({ type: CreateInstanceBackupInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const backup = await ctx.core.instanceBackups.create(ctx.caller, {
        instance_id: check(uuid, input.instanceId, 'input.instanceId'),
        name: check(optionalName, input.name, 'input.name'),
        description: check(optionalName, input.description, 'input.description'),
        metadata: check(metadata.optional(), input.metadata ?? undefined, 'input.metadata'),
        container: check(optionalName, input.container, 'input.container'),
        incremental: input.incremental ?? undefined,
      });
      return ctx.prisma.instanceBackup.findUniqueOrThrow({ ...query, where: { id: backup.id } });
    },
  }),

  updateInstanceBackup: t.prismaField({
    type: 'InstanceBackup',
    args: { input: t.arg({ type: UpdateInstanceBackupInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const id = parseId(String(input.id), 'InstanceBackup');
      await ctx.core.instanceBackups.update(ctx.caller, id, checkedUpdate(input));
      return ctx.prisma.instanceBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),

  verifyInstanceBackup: t.prismaField({
    type: 'InstanceBackup',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'InstanceBackup');
      await ctx.core.instanceBackups.verify(ctx.caller, id);
      return ctx.prisma.instanceBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),

  resetInstanceBackupStatus: t.prismaField({
    type: 'InstanceBackup',
    description: 'Admin only.',
    args: { id: t.arg.id({ required: true }), status: t.arg({ type: ResetStatus, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'InstanceBackup');
      await ctx.core.instanceBackups.resetStatus(ctx.caller, id, args.status);
      return ctx.prisma.instanceBackup.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),

  deleteInstanceBackup: t.field({
    type: InstanceBackupNode,
    description: 'It shows deleting until its volume backups and it are gone.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.core.instanceBackups.delete(ctx.caller, parseId(String(args.id), 'InstanceBackup')),
  }),
}));
