import { randomUUID } from 'node:crypto';
import { type Caller, isAdmin } from '../../auth/caller.js';
import type { Db } from '../../db/client.js';
import type { InstanceArtifactStatus, InstanceBackup, Prisma } from '../../generated/prisma/client.js';
import { JobEngine } from '../../jobs/engine.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { inspectInstance } from '../instances/inspect.js';
import { type ListInstanceArtifactsQuery, listScope, sortColumn, visibleTo } from '../instances/listing.js';
import { instanceBackupCreateKeys, instanceBackupDeleteKeys } from '../instances/locks.js';
import { keysetPage } from '../pagination.js';
import type { RepositoryDirectory } from '../repositories.js';
import { assertWriter } from '../visibility.js';
import { backupKeys, deleteKeys, verifyKeys } from '../volume-backups/locks.js';
import { DELETABLE_BACKUP_STATUSES } from '../volume-backups/service.js';

/** One volume's backup in an instance backup (stored as the wire names it). */
export interface VolumeBackupEntry {
  volume_id: string;
  backup_id: string;
  device: string | null;
  boot_index: number | null;
}

export interface CreateInstanceBackupArgs {
  instance_id: string;
  name?: string | null;
  description?: string | null;
  metadata?: Record<string, string>;
  container?: string | null;
  /** false: every volume backed up in full. Default: incremental where a previous backup exists. */
  incremental?: boolean;
}

export interface UpdateInstanceBackupArgs {
  name?: string | null;
  description?: string | null;
  metadata?: Record<string, string>;
}

/** State of the parent job. */
export type InstanceBackupCreateState = {
  incremental?: boolean | null;
  /** volume backup id → temporary Cinder snapshot id (the service's, deleted by the backup job). */
  snapshots?: Record<string, string>;
  /** The temporary Glance image of an image-backed root disk. */
  imageId?: string | null;
  imageSizeBytes?: number;
};

const DELETABLE: InstanceArtifactStatus[] = ['available', 'error', 'error_deleting'];
/** `runAfter` of a volume backup job until its instance backup's job releases (or cancels) it. */
export const HELD_FOR_PARENT = new Date('9999-12-31T00:00:00Z');
const GiB = 1024 ** 3;

interface Deps {
  prisma: Db;
  cloud: OpenStackCloud;
  repositories: RepositoryDirectory;
  wakeJobs(): void;
}

/**
 * Instance backups (SPEC §5.6): one volume backup per attached volume, from point-in-time snapshots
 * taken together, each incremental where a previous backup of the volume exists; an image-backed
 * root disk captured through createImage and its data stored in the repository as a backup of its
 * own (restorable with `POST /volume` like any other); and the instance's description.
 */
export class InstanceBackupService {
  constructor(private readonly deps: Deps) {}

  async list(
    caller: Caller,
    query: ListInstanceArtifactsQuery,
  ): Promise<{ backups: InstanceBackup[]; more: boolean }> {
    const { scope, filters } = listScope(caller, query);
    const { rows, more } = await keysetPage(query.page, sortColumn(query), {
      marker: (id) => this.deps.prisma.instanceBackup.findFirst({ where: { ...scope, id } }),
      rows: ({ where, orderBy, take }) =>
        this.deps.prisma.instanceBackup.findMany({
          where: { AND: [filters, where as Prisma.InstanceBackupWhereInput] },
          orderBy: orderBy as Prisma.InstanceBackupOrderByWithRelationInput[],
          take,
        }),
    });
    return { backups: rows, more };
  }

  async get(caller: Caller, id: string): Promise<InstanceBackup> {
    const backup = await this.deps.prisma.instanceBackup.findFirst({ where: { id, ...visibleTo(caller) } });
    if (!backup) throw notFound(`Instance backup ${id} could not be found.`);
    return backup;
  }

  async create(caller: Caller, args: CreateInstanceBackupArgs): Promise<InstanceBackup> {
    assertWriter(caller);
    const { prisma, cloud } = this.deps;
    const instance = await inspectInstance(cloud, caller, args.instance_id, 'an instance backup');
    const repository = await this.deps.repositories.forContainer(args.container);
    const id = randomUUID();
    const children = instance.volumes.map((volume) => ({ backupId: randomUUID(), volume }));
    const imageBackupId = instance.rootImageId ? randomUUID() : null;
    const entries: VolumeBackupEntry[] = children.map(({ backupId, volume }) => ({
      volume_id: volume.volumeId,
      backup_id: backupId,
      device: volume.device,
      boot_index: volume.bootIndex,
    }));
    const label = args.name ?? `instance backup ${id}`;
    const flavorDisk = Number((instance.description.flavor as { disk?: unknown } | undefined)?.disk);
    const common = {
      projectId: caller.projectId,
      userId: caller.userId,
      description: args.description ?? null,
      status: 'creating' as const,
      isIncremental: args.incremental !== false,
      container: args.container ?? null,
      repositoryId: repository.id,
      instanceBackupId: id,
    };
    const backup = await prisma.$transaction(async (tx) => {
      const created = await tx.instanceBackup.create({
        data: {
          id,
          projectId: caller.projectId,
          userId: caller.userId,
          name: args.name ?? null,
          description: args.description ?? null,
          instanceId: instance.id,
          status: 'creating',
          volumeBackups: entries as unknown as Prisma.InputJsonValue,
          imageBackupId,
          instance: instance.description as Prisma.InputJsonValue,
          metadata: args.metadata ?? {},
          container: args.container ?? null,
        },
      });
      for (const { backupId, volume } of children) {
        await tx.volumeBackup.create({
          data: {
            ...common,
            id: backupId,
            name: `${label} (${volume.device ?? volume.volumeId})`,
            volumeId: volume.volumeId,
            sizeGb: volume.sizeGb,
            availabilityZone: volume.availabilityZone,
          },
        });
      }
      if (imageBackupId) {
        await tx.volumeBackup.create({
          data: {
            ...common,
            id: imageBackupId,
            name: `${label} (root disk)`,
            volumeId: instance.id,
            source: 'image',
            // The flavor's root disk until the image's size is known.
            sizeGb: Number.isInteger(flavorDisk) && flavorDisk > 0 ? flavorDisk : 1,
            availabilityZone: (instance.description.availability_zone as string | null) ?? null,
          },
        });
      }
      // The volume backups' jobs are enqueued now, held until the parent hands each its snapshot:
      // queued before anything asked for later, they never wait behind a job that waits for the
      // parent (e.g. a garbage collection of the repository, which waits for the parent's writes).
      for (const { backupId, volume } of children) {
        await JobEngine.enqueue(tx, {
          kind: 'volume_backup_create',
          projectId: caller.projectId,
          userId: caller.userId,
          volumeBackupId: backupId,
          ...backupKeys({ backupId, volumeId: volume.volumeId, repositoryId: repository.id }),
          step: 'snapshot',
          state: { incremental: args.incremental ?? null },
          runAfter: HELD_FOR_PARENT,
        });
      }
      await JobEngine.enqueue(tx, {
        kind: 'instance_backup_create',
        projectId: caller.projectId,
        userId: caller.userId,
        instanceBackupId: id,
        ...instanceBackupCreateKeys({
          backupId: id,
          instanceId: instance.id,
          volumeIds: instance.volumes.map((v) => v.volumeId),
          imageBackupId,
          repositoryId: repository.id,
        }),
        state: { incremental: args.incremental ?? null } satisfies InstanceBackupCreateState,
        maxAttempts: 10,
      });
      return created;
    });
    this.deps.wakeJobs();
    return backup;
  }

  async update(caller: Caller, id: string, args: UpdateInstanceBackupArgs): Promise<InstanceBackup> {
    assertWriter(caller);
    const backup = await this.get(caller, id);
    const data: Prisma.InstanceBackupUpdateInput = {};
    if (args.name !== undefined) data.name = args.name;
    if (args.description !== undefined) data.description = args.description;
    if (args.metadata !== undefined) data.metadata = args.metadata;
    return this.deps.prisma.instanceBackup.update({ where: { id: backup.id }, data });
  }

  /** Re-reads every chunk of each of its backups (each a verify job of its own). */
  async verify(caller: Caller, id: string): Promise<InstanceBackup> {
    assertWriter(caller);
    const backup = await this.get(caller, id);
    if (backup.status !== 'available') {
      throw badRequest(
        `Invalid instance backup: status must be available, but the current status is "${backup.status}".`,
      );
    }
    const children = await this.deps.prisma.volumeBackup.findMany({ where: { instanceBackupId: backup.id } });
    await this.deps.prisma.$transaction(async (tx) => {
      for (const child of children) {
        await JobEngine.enqueue(tx, {
          kind: 'volume_backup_verify',
          projectId: child.projectId,
          userId: caller.userId,
          volumeBackupId: child.id,
          ...verifyKeys({ backupId: child.id, repositoryId: child.repositoryId }),
        });
      }
    });
    this.deps.wakeJobs();
    return backup;
  }

  async resetStatus(caller: Caller, id: string, status: 'available' | 'error'): Promise<InstanceBackup> {
    if (!isAdmin(caller))
      throw forbidden("Policy doesn't allow instance_backup:reset_status to be performed.");
    const backup = await this.get(caller, id);
    return this.deps.prisma.instanceBackup.update({ where: { id: backup.id }, data: { status } });
  }

  /**
   * Deletes every volume backup of the instance backup through the normal backup deletion (each its
   * own job), then the record (a job that waits for them). None of them may be busy.
   */
  async delete(caller: Caller, id: string): Promise<InstanceBackup> {
    assertWriter(caller);
    const backup = await this.get(caller, id);
    const deleted = await this.deps.prisma.$transaction(async (tx) => {
      const { count } = await tx.instanceBackup.updateMany({
        where: { id: backup.id, status: { in: DELETABLE } },
        data: { status: 'deleting' },
      });
      if (count === 0) {
        throw conflict(
          backup.status === 'deleting'
            ? `Instance backup ${backup.id} is already being deleted.`
            : `Invalid instance backup: status must be available or error, but the current status is "${backup.status}".`,
        );
      }
      const children = await tx.volumeBackup.findMany({ where: { instanceBackupId: backup.id } });
      const busy = children.filter(
        (c) => c.status !== 'deleting' && !DELETABLE_BACKUP_STATUSES.includes(c.status),
      );
      if (busy.length > 0) {
        throw conflict(
          `Instance backup ${backup.id} cannot be deleted now: ${busy.map((c) => `backup ${c.id} is ${c.status}`).join(', ')}. Try again when ${busy.length > 1 ? 'they have' : 'it has'} finished.`,
        );
      }
      for (const child of children) {
        const marked = await tx.volumeBackup.updateMany({
          where: { id: child.id, status: { in: DELETABLE_BACKUP_STATUSES } },
          data: { status: 'deleting' },
        });
        if (marked.count === 0) continue; // already being deleted
        await JobEngine.enqueue(tx, {
          kind: 'volume_backup_delete',
          projectId: child.projectId,
          userId: caller.userId,
          volumeBackupId: child.id,
          ...deleteKeys({ backupId: child.id, repositoryId: child.repositoryId }),
        });
      }
      await JobEngine.enqueue(tx, {
        kind: 'instance_backup_delete',
        projectId: backup.projectId,
        userId: caller.userId,
        instanceBackupId: backup.id,
        ...instanceBackupDeleteKeys({ backupId: backup.id }),
      });
      return tx.instanceBackup.findUniqueOrThrow({ where: { id: backup.id } });
    });
    this.deps.wakeJobs();
    return deleted;
  }
}

/** Whole GiB holding `bytes` (at least 1), as Cinder sizes volumes. */
export const gibFor = (bytes: number) => Math.max(1, Math.ceil(bytes / GiB));
