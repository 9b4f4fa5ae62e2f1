import { metadata, name255, sizeGb, uuid } from '../../domain/inputs.js';
import type { RestorePoint as RestorePointRecord } from '../../domain/restore-points.js';
import { builder } from '../builder.js';
import { parseId } from '../ids.js';
import './jobs.js';
import { check } from './validation.js';

interface VolumeShape {
  id: string;
  name: string | null;
  status: string;
  sizeGb: number;
  availabilityZone: string | null;
}

const Volume = builder.objectRef<VolumeShape>('Volume').implement({
  description: 'A Cinder volume, as the service made it.',
  fields: (t) => ({
    id: t.exposeString('id'),
    name: t.exposeString('name', { nullable: true }),
    status: t.exposeString('status'),
    sizeGb: t.exposeInt('sizeGb'),
    availabilityZone: t.exposeString('availabilityZone', { nullable: true }),
  }),
});

const RestorePointKind = builder.enumType('RestorePointKind', {
  values: {
    backup: { description: 'A backup: restore it, into this volume or a new one.' },
    snapshot: { description: 'A Cinder snapshot: roll the volume back to it.' },
  } as const,
});

const RestorePoint = builder.objectRef<RestorePointRecord>('RestorePoint').implement({
  fields: (t) => ({
    kind: t.expose('kind', { type: RestorePointKind }),
    id: t.exposeString('id'),
    name: t.exposeString('name', { nullable: true }),
    pointInTime: t.expose('pointInTime', { type: 'DateTime', nullable: true }),
    status: t.exposeString('status'),
    sizeGb: t.exposeInt('sizeGb'),
    isIncremental: t.exposeBoolean('isIncremental'),
  }),
});

const Rollback = builder.objectRef<{ volumeId: string; snapshotId: string; jobId: string }>('VolumeRollback');
Rollback.implement({
  fields: (t) => ({
    volumeId: t.exposeString('volumeId'),
    snapshotId: t.exposeString('snapshotId'),
    job: t.prismaField({
      type: 'Job',
      resolve: (query, rollback, _args, ctx) =>
        ctx.prisma.job.findUniqueOrThrow({ ...query, where: { id: rollback.jobId } }),
    }),
  }),
});

const CreateVolumeFromBackupInput = builder.inputType('CreateVolumeFromBackupInput', {
  fields: (t) => ({
    backupId: t.id({ required: true }),
    name: t.string(),
    description: t.string(),
    sizeGb: t.int({ description: "GiB, at least the backup's (default)." }),
    volumeType: t.string(),
    availabilityZone: t.string(),
    metadata: t.field({ type: 'JSON' }),
  }),
});

builder.queryFields((t) => ({
  restorePoints: t.field({
    type: [RestorePoint],
    description: 'The backups and snapshots a volume can be brought back to, newest first.',
    args: { volumeId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.core.restorePoints.list(ctx.caller, check(uuid, args.volumeId, 'volumeId')),
  }),
}));

builder.mutationFields((t) => ({
  createVolumeFromBackup: t.field({
    type: Volume,
    description: "A new volume of the caller's, filled from the backup (restoring-backup, then available).",
    args: { input: t.arg({ type: CreateVolumeFromBackupInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const volume = await ctx.core.volumeBackups.restoreToNewVolume(ctx.caller, {
        backup_id: parseId(String(input.backupId), 'VolumeBackup'),
        name: check(name255.nullish(), input.name, 'input.name'),
        description: check(name255.nullish(), input.description, 'input.description'),
        size: check(sizeGb.optional(), input.sizeGb ?? undefined, 'input.sizeGb'),
        volume_type: check(name255.nullish(), input.volumeType, 'input.volumeType'),
        availability_zone: check(name255.nullish(), input.availabilityZone, 'input.availabilityZone'),
        metadata: check(metadata.optional(), input.metadata ?? undefined, 'input.metadata'),
      });
      return {
        id: volume.id,
        name: volume.name ?? null,
        status: volume.status,
        sizeGb: volume.size,
        availabilityZone: volume.availability_zone ?? null,
      };
    },
  }),

  rollbackVolume: t.field({
    type: Rollback,
    description:
      'Rolls a volume back to any of its snapshots (available, or in-use with its instances stopped).',
    args: { volumeId: t.arg.string({ required: true }), snapshotId: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const accepted = await ctx.core.volumeRollbacks.rollback(
        ctx.caller,
        check(uuid, args.volumeId, 'volumeId'),
        check(uuid, args.snapshotId, 'snapshotId'),
      );
      return { volumeId: accepted.volume_id, snapshotId: accepted.snapshot_id, jobId: accepted.job_id };
    },
  }),
}));
