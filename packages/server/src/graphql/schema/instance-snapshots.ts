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

const VolumeSnapshotEntry = builder
  .objectRef<{
    volumeId: string;
    snapshotId: string | null;
    device: string | null;
    bootIndex: number | null;
  }>('InstanceVolumeSnapshot')
  .implement({
    fields: (t) => ({
      volumeId: t.exposeString('volumeId'),
      snapshotId: t.exposeString('snapshotId', { nullable: true }),
      device: t.exposeString('device', { nullable: true }),
      bootIndex: t.exposeInt('bootIndex', { nullable: true }),
    }),
  });

interface StoredEntry {
  volume_id: string;
  snapshot_id: string | null;
  device: string | null;
  boot_index: number | null;
}

export const InstanceSnapshotNode = builder.prismaNode('InstanceSnapshot', {
  description:
    'Cinder snapshots of every volume of an instance (and an image of an image-backed root disk), taken together.',
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
    volumeSnapshots: t.field({
      type: [VolumeSnapshotEntry],
      select: { volumeSnapshots: true },
      resolve: (snapshot) =>
        (snapshot.volumeSnapshots as unknown as StoredEntry[]).map((e) => ({
          volumeId: e.volume_id,
          snapshotId: e.snapshot_id,
          device: e.device,
          bootIndex: e.boot_index,
        })),
    }),
    imageId: t.exposeString('imageId', { nullable: true }),
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
  instanceSnapshots: t.prismaConnection({
    type: 'InstanceSnapshot',
    cursor: 'id',
    args: {
      filter: t.arg({ type: InstanceArtifactFilter }),
      orderBy: t.arg({ type: InstanceArtifactOrder }),
      allTenants: t.arg.boolean(),
    },
    complexity: (args) => ({ field: 1, multiplier: args.first ?? args.last ?? 20 }),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.instanceSnapshot.findMany({
        ...query,
        where: instanceArtifactWhere(ctx.caller, args),
        orderBy: instanceArtifactOrder(args),
      }),
    totalCount: (_c, args, ctx) =>
      ctx.prisma.instanceSnapshot.count({ where: instanceArtifactWhere(ctx.caller, args) }),
  }),

  instanceSnapshot: t.prismaField({
    type: 'InstanceSnapshot',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'InstanceSnapshot');
      await ctx.core.instanceSnapshots.get(ctx.caller, id);
      return ctx.prisma.instanceSnapshot.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));

const CreateInstanceSnapshotInput = builder.inputType('CreateInstanceSnapshotInput', {
  fields: (t) => ({
    instanceId: t.string({ required: true }),
    name: t.string(),
    description: t.string(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

const UpdateInstanceSnapshotInput = builder.inputType('UpdateInstanceSnapshotInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    description: t.string(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

builder.mutationFields((t) => ({
  createInstanceSnapshot: t.prismaField({
    type: 'InstanceSnapshot',
    args: { input: t.arg({ type: CreateInstanceSnapshotInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const snapshot = await ctx.core.instanceSnapshots.create(ctx.caller, {
        instance_id: check(uuid, input.instanceId, 'input.instanceId'),
        name: check(optionalName, input.name, 'input.name'),
        description: check(optionalName, input.description, 'input.description'),
        metadata: check(metadata.optional(), input.metadata ?? undefined, 'input.metadata'),
      });
      return ctx.prisma.instanceSnapshot.findUniqueOrThrow({ ...query, where: { id: snapshot.id } });
    },
  }),

  updateInstanceSnapshot: t.prismaField({
    type: 'InstanceSnapshot',
    args: { input: t.arg({ type: UpdateInstanceSnapshotInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const id = parseId(String(input.id), 'InstanceSnapshot');
      await ctx.core.instanceSnapshots.update(ctx.caller, id, checkedUpdate(input));
      return ctx.prisma.instanceSnapshot.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),

  deleteInstanceSnapshot: t.field({
    type: InstanceSnapshotNode,
    description: 'Removes what the snapshot created; it shows deleting until it is gone.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.core.instanceSnapshots.delete(ctx.caller, parseId(String(args.id), 'InstanceSnapshot')),
  }),
}));
