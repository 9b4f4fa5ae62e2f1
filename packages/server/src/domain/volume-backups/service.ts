import { randomUUID } from 'node:crypto';
import { type Caller, isAdmin } from '../../auth/caller.js';
import type { Db } from '../../db/client.js';
import { Prisma, type VolumeBackup, type VolumeBackupStatus } from '../../generated/prisma/client.js';
import { JobEngine } from '../../jobs/engine.js';
import type { Volume } from '../../openstack/cinder.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { keysetPage, type PageRequest, parseSort } from '../pagination.js';
import type { RepositoryDirectory } from '../repositories.js';
import { assertWriter, listScope, lookupScope } from '../visibility.js';
import { type TransitionStart, timeStart, waitUntil } from '../wait.js';
import { renderBackupViews } from './cinder-view-sql.js';
import { ListPageCache, type RenderedPage } from './list-page-cache.js';
import { backupKeys, deleteKeys, restoreKeys, verifyKeys } from './locks.js';

/** A backup as the domain hands it to transports. */
export type VolumeBackupRecord = VolumeBackup & { hasDependentBackups: boolean };

export const VOLUME_BACKUP_SORT_KEYS = [
  'created_at',
  'updated_at',
  'name',
  'status',
  'size',
  'id',
  'volume_id',
] as const;
export type VolumeBackupSortKey = (typeof VOLUME_BACKUP_SORT_KEYS)[number];

const SORT_COLUMNS: Record<VolumeBackupSortKey, { name: string; nullable: boolean }> = {
  created_at: { name: 'createdAt', nullable: false },
  updated_at: { name: 'updatedAt', nullable: false },
  name: { name: 'name', nullable: true },
  status: { name: 'status', nullable: false },
  size: { name: 'sizeGb', nullable: false },
  id: { name: 'id', nullable: false },
  volume_id: { name: 'volumeId', nullable: false },
};

export interface ListVolumeBackupsQuery {
  page: PageRequest<VolumeBackupSortKey>;
  status?: VolumeBackupStatus;
  volumeId?: string;
  name?: string;
  allTenants?: boolean;
}

export interface CreateVolumeBackupArgs {
  volume_id: string;
  name?: string | null;
  description?: string | null;
  incremental?: boolean;
  snapshot_id?: string | null;
  metadata?: Record<string, string>;
  container?: string | null;
  force?: boolean;
  availability_zone?: string | null;
}

export interface UpdateVolumeBackupArgs {
  name?: string | null;
  description?: string | null;
  metadata?: Record<string, string>;
}

export interface RestoreToNewVolumeArgs {
  backup_id: string;
  name?: string | null;
  description?: string | null;
  size?: number;
  volume_type?: string | null;
  availability_zone?: string | null;
  metadata?: Record<string, string>;
}

const BACKUPABLE_VOLUME_STATUSES = new Set(['available', 'in-use']);
/** Statuses a backup may be deleted from (also by an instance backup's deletion). */
export const DELETABLE_BACKUP_STATUSES: VolumeBackupStatus[] = ['available', 'error', 'error_deleting'];
const RESTORABLE: VolumeBackupStatus[] = ['available', 'restoring'];

interface Deps {
  prisma: Db;
  cloud: OpenStackCloud;
  repositories: RepositoryDirectory;
  /** Tells the local job engine that work is waiting. */
  wakeJobs(): void;
  /** How long a restore request waits for Cinder to create the target volume before answering. */
  holdTimeoutMs: number;
}

/**
 * Volume backups: the rules (who may do what, in which status), state changes as compare-and-swap
 * against the status enum, and the jobs that do the work. Transports call only this.
 */
export class VolumeBackupService {
  private readonly listPages: ListPageCache;

  constructor(private readonly deps: Deps) {
    this.listPages = new ListPageCache(deps.prisma);
  }

  static parseSort(raw: { sort?: string; sort_key?: string; sort_dir?: string }) {
    return parseSort(raw, VOLUME_BACKUP_SORT_KEYS, { key: 'created_at', dir: 'desc' });
  }

  async list(
    caller: Caller,
    query: ListVolumeBackupsQuery,
  ): Promise<{ backups: VolumeBackupRecord[]; more: boolean }> {
    const { rows, more } = await this.page(caller, query, undefined);
    return { backups: await this.withDependents(rows as VolumeBackup[]), more };
  }

  /**
   * The page `list` would answer as /v1 views in one JSON array, rendered by PostgreSQL (see
   * cinder-view-sql.ts) and kept while the project's backups do not change (see list-page-cache.ts).
   */
  async viewPage(caller: Caller, query: ListVolumeBackupsQuery, baseUrl: string): Promise<RenderedPage> {
    const render = async () => {
      const { rows, more } = await this.page(caller, query, { id: true });
      const ids = rows.map((row) => row.id);
      return { views: await renderBackupViews(this.deps.prisma, ids, baseUrl), lastId: ids.at(-1), more };
    };
    const scope = listScope(caller, query.allTenants);
    // Every project's lists have no one version to check: rendered each time (admins only).
    if (!scope.projectId) return render();
    const { page, status, volumeId, name } = query;
    return this.listPages.get(
      scope.projectId,
      JSON.stringify([baseUrl, page, status, volumeId, name]),
      render,
    );
  }

  /** Scope, filters, marker and keyset order of a backup list: the one place they are decided. */
  private async page(
    caller: Caller,
    query: ListVolumeBackupsQuery,
    select: { id: true } | undefined,
  ): Promise<{ rows: Array<Pick<VolumeBackup, 'id'>>; more: boolean }> {
    const scope: Prisma.VolumeBackupWhereInput = listScope(caller, query.allTenants);
    const filters: Prisma.VolumeBackupWhereInput = {
      ...scope,
      ...(query.status ? { status: query.status } : {}),
      ...(query.volumeId ? { volumeId: query.volumeId } : {}),
      ...(query.name !== undefined ? { name: query.name } : {}),
    };
    return keysetPage(query.page, SORT_COLUMNS[query.page.sort.key], {
      marker: (id) => this.deps.prisma.volumeBackup.findFirst({ where: { ...scope, id } }),
      rows: ({ where, orderBy, take }) =>
        this.deps.prisma.volumeBackup.findMany({
          where: { AND: [filters, where as Prisma.VolumeBackupWhereInput] },
          orderBy: orderBy as Prisma.VolumeBackupOrderByWithRelationInput[],
          take,
          ...(select ? { select } : {}),
        }),
    });
  }

  async get(caller: Caller, id: string): Promise<VolumeBackupRecord> {
    const [record] = await this.withDependents([await this.visible(caller, id)]);
    return record as VolumeBackupRecord;
  }

  async create(caller: Caller, args: CreateVolumeBackupArgs): Promise<VolumeBackupRecord> {
    assertWriter(caller);
    const cinder = this.deps.cloud.cinderAuthFor(caller);
    const volume = await this.deps.cloud.cinder.getVolume(cinder, args.volume_id);
    if (!volume) throw notFound(`Volume ${args.volume_id} could not be found.`);
    if (!BACKUPABLE_VOLUME_STATUSES.has(volume.status)) {
      await this.refuseDuringRollback(volume.id);
      throw badRequest(
        `Invalid volume: Volume to be backed up must be available or in-use, but the current status is "${volume.status}".`,
      );
    }
    if (args.snapshot_id) {
      const snapshot = await this.deps.cloud.cinder.getSnapshot(cinder, args.snapshot_id);
      if (!snapshot) throw notFound(`Snapshot ${args.snapshot_id} could not be found.`);
      if (snapshot.volume_id !== volume.id) {
        throw badRequest(
          `Invalid snapshot: Snapshot ${snapshot.id} is not a snapshot of volume ${volume.id}.`,
        );
      }
      if (snapshot.status !== 'available') {
        throw badRequest(
          `Invalid snapshot: Snapshot to be backed up must be available, but the current status is "${snapshot.status}".`,
        );
      }
    }
    const repository = await this.deps.repositories.forContainer(args.container);
    if (args.incremental === true) {
      const previous = await this.deps.prisma.volumeBackup.findFirst({
        where: {
          volumeId: volume.id,
          repositoryId: repository.id,
          status: { in: ['available', 'restoring', 'creating'] },
        },
      });
      if (!previous) throw badRequest('Invalid backup: No backups available to do an incremental backup.');
    }
    const id = randomUUID();
    const now = new Date();
    const [backup] = await JobEngine.enqueueWith<VolumeBackup>(
      this.deps.prisma,
      Prisma.sql`
        INSERT INTO "VolumeBackup" (id, "projectId", "userId", name, description, "volumeId", "snapshotId",
          status, "sizeGb", "isIncremental", container, "repositoryId", "availabilityZone", metadata,
          "createdAt", "updatedAt")
        VALUES (${id}::uuid, ${caller.projectId}, ${caller.userId}, ${args.name ?? null},
          ${args.description ?? null}, ${volume.id}, ${args.snapshot_id ?? null}, 'creating', ${volume.size},
          ${args.incremental !== false}, ${args.container ?? null}, ${repository.id},
          ${args.availability_zone ?? volume.availability_zone ?? null}, ${JSON.stringify(args.metadata ?? {})}::jsonb,
          ${now}, ${now})`,
      {
        kind: 'volume_backup_create',
        projectId: caller.projectId,
        userId: caller.userId,
        volumeBackupId: id,
        ...backupKeys({ backupId: id, volumeId: volume.id, repositoryId: repository.id }),
        state: { incremental: args.incremental ?? null },
      },
    );
    if (!backup) throw new Error(`backup ${id} was not created`);
    this.deps.wakeJobs();
    return { ...backup, hasDependentBackups: false };
  }

  async update(caller: Caller, id: string, args: UpdateVolumeBackupArgs): Promise<VolumeBackupRecord> {
    assertWriter(caller);
    const backup = await this.visible(caller, id);
    const data: Prisma.VolumeBackupUpdateInput = {};
    if (args.name !== undefined) data.name = args.name;
    if (args.description !== undefined) data.description = args.description;
    if (args.metadata !== undefined) data.metadata = args.metadata;
    const updated = await this.deps.prisma.volumeBackup.update({ where: { id: backup.id }, data });
    const [record] = await this.withDependents([updated]);
    return record as VolumeBackupRecord;
  }

  async delete(caller: Caller, id: string, options: { force?: boolean } = {}): Promise<VolumeBackupRecord> {
    assertWriter(caller);
    if (options.force && !isAdmin(caller))
      throw forbidden("Policy doesn't allow backup:force_delete to be performed.");
    const backup = await this.visible(caller, id);
    if (backup.instanceBackupId && !options.force) {
      throw conflict(
        `Backup ${backup.id} is part of instance backup ${backup.instanceBackupId}: delete the instance backup (DELETE /instance/backup/${backup.instanceBackupId}).`,
      );
    }
    const from: VolumeBackupStatus[] = options.force
      ? ['available', 'error', 'error_deleting', 'creating', 'restoring']
      : DELETABLE_BACKUP_STATUSES;
    const deleted = await this.deps.prisma.$transaction(async (tx) => {
      const { count } = await tx.volumeBackup.updateMany({
        where: { id: backup.id, status: { in: from } },
        data: { status: 'deleting' },
      });
      if (count === 0) {
        throw conflict(
          backup.status === 'deleting'
            ? `Backup ${backup.id} is already being deleted.`
            : `Invalid backup: Backup status must be available or error, but the current status is "${backup.status}".`,
        );
      }
      if (options.force) {
        // Queued work on the backup is void; a running job is asked to stop and clean up after itself.
        await tx.job.updateMany({
          where: { volumeBackupId: backup.id, status: 'queued' },
          data: { status: 'cancelled', finishedAt: new Date() },
        });
        await tx.job.updateMany({
          where: { volumeBackupId: backup.id, status: 'running' },
          data: { cancelRequested: true },
        });
      }
      await JobEngine.enqueue(tx, {
        kind: 'volume_backup_delete',
        projectId: backup.projectId,
        userId: caller.userId,
        volumeBackupId: backup.id,
        ...deleteKeys({ backupId: backup.id, repositoryId: backup.repositoryId }),
      });
      return tx.volumeBackup.findUniqueOrThrow({ where: { id: backup.id } });
    });
    this.deps.wakeJobs();
    return { ...deleted, hasDependentBackups: false };
  }

  /** The `restore` action: into an existing available volume that is large enough, or a new one. */
  async restore(
    caller: Caller,
    id: string,
    args: { volume_id?: string | null; name?: string | null },
  ): Promise<{ backup_id: string; volume_id: string; volume_name: string | null }> {
    assertWriter(caller);
    const backup = await this.visible(caller, id);
    assertRestorable(backup);
    const cinder = this.deps.cloud.cinderAuthFor(caller);
    let volume: Volume;
    let begun: TransitionStart | undefined;
    if (args.volume_id) {
      const existing = await this.deps.cloud.cinder.getVolume(cinder, args.volume_id);
      if (!existing) throw notFound(`Volume ${args.volume_id} could not be found.`);
      if (existing.status !== 'available') {
        throw badRequest(
          `Invalid volume: Volume to be restored to must be available, but the current status is "${existing.status}".`,
        );
      }
      if (existing.size < backup.sizeGb) {
        throw badRequest(
          `Invalid volume: volume size ${existing.size} GiB is smaller than the backup's ${backup.sizeGb} GiB.`,
        );
      }
      volume = existing;
    } else {
      ({ created: volume, begun } = await timeStart(() =>
        this.deps.cloud.cinder.createVolume(cinder, {
          size: backup.sizeGb,
          name: args.name ?? `restore_backup_${backup.id}`,
          description: `auto-created volume for restore of backup ${backup.id}`,
          availability_zone: backup.availabilityZone,
        }),
      ));
    }
    await this.holdForRestore(volume.id, backup, begun);
    await this.enqueueRestore(caller, backup, volume, !args.volume_id);
    return { backup_id: backup.id, volume_id: volume.id, volume_name: volume.name ?? null };
  }

  /** `POST /volume` with `backup_id`: a new Cinder volume of the caller's, filled from the backup. */
  async restoreToNewVolume(caller: Caller, args: RestoreToNewVolumeArgs): Promise<Volume> {
    assertWriter(caller);
    const backup = await this.visible(caller, args.backup_id);
    assertRestorable(backup);
    const size = args.size ?? backup.sizeGb;
    if (size < backup.sizeGb) {
      throw badRequest(
        `Invalid input received: volume size ${size} GiB is smaller than the backup's ${backup.sizeGb} GiB.`,
      );
    }
    const { created: volume, begun } = await timeStart(() =>
      this.deps.cloud.cinder.createVolume(this.deps.cloud.cinderAuthFor(caller), {
        size,
        name: args.name ?? null,
        description: args.description ?? null,
        volume_type: args.volume_type ?? null,
        availability_zone: args.availability_zone ?? null,
        metadata: args.metadata ?? {},
      }),
    );
    const held = await this.holdForRestore(volume.id, backup, begun);
    await this.enqueueRestore(caller, backup, volume, true);
    return held ?? volume;
  }

  async verify(caller: Caller, id: string): Promise<VolumeBackupRecord> {
    assertWriter(caller);
    const backup = await this.visible(caller, id);
    if (backup.status !== 'available') {
      throw badRequest(
        `Invalid backup: Backup status must be available, but the current status is "${backup.status}".`,
      );
    }
    await this.deps.prisma.$transaction((tx) =>
      JobEngine.enqueue(tx, {
        kind: 'volume_backup_verify',
        projectId: backup.projectId,
        userId: caller.userId,
        volumeBackupId: backup.id,
        ...verifyKeys({ backupId: backup.id, repositoryId: backup.repositoryId }),
      }),
    );
    this.deps.wakeJobs();
    return this.get(caller, id);
  }

  async resetStatus(caller: Caller, id: string, status: VolumeBackupStatus): Promise<VolumeBackupRecord> {
    if (!isAdmin(caller)) throw forbidden("Policy doesn't allow backup:backup-reset_status to be performed.");
    if (status !== 'available' && status !== 'error') {
      throw badRequest(
        `Invalid backup status ${JSON.stringify(status)}: reset_status accepts available or error.`,
      );
    }
    const backup = await this.visible(caller, id);
    await this.deps.prisma.volumeBackup.update({ where: { id: backup.id }, data: { status } });
    return this.get(caller, id);
  }

  /**
   * Marks the target `restoring-backup` before the caller learns its id, so that it never looks
   * usable while the backup is being written: a new volume is first waited out of `creating`
   * (briefly; if Cinder is slower, the restore job marks it). Returns the volume as it is then.
   * `begun`: when Cinder began creating it (see `Transition`), if this request made the call.
   */
  private async holdForRestore(
    volumeId: string,
    backup: VolumeBackup,
    begun?: TransitionStart,
  ): Promise<Volume | undefined> {
    const { cloud } = this.deps;
    const deadline = Date.now() + this.deps.holdTimeoutMs;
    const held = await cloud.asServiceOnCinder((auth) =>
      waitUntil(
        `volume ${volumeId} to be created`,
        async () => {
          const volume = await cloud.cinder.getVolume(auth, volumeId);
          if (!volume || volume.status === 'error') return { volume: volume ?? undefined };
          if (volume.status === 'available') {
            await cloud.cinder.resetVolumeStatus(auth, volumeId, 'restoring-backup');
            return { volume: { ...volume, status: 'restoring-backup' } };
          }
          return Date.now() > deadline ? { volume } : undefined;
        },
        // Cinder takes from a fraction of a second to minutes: the packs the restore reads first
        // come into the page cache meanwhile (its job runs in this process when it can).
        {
          meanwhile: (signal) => this.deps.repositories.warmRestore(backup, signal),
          transition: {
            kind: 'cinder volume create',
            begun,
            // The volume as it was seen available (its status since then is ours).
            timestamps: (held) => (held.volume?.status === 'restoring-backup' ? held.volume : undefined),
          },
        },
      ),
    );
    return held.volume;
  }

  private async enqueueRestore(caller: Caller, backup: VolumeBackup, volume: Volume, createdVolume: boolean) {
    try {
      await this.enqueueRestoreJob(caller, backup, volume, createdVolume);
    } catch (error) {
      // Nothing will write the volume: give an existing one back, remove the one made for this.
      await this.deps.cloud.asServiceOnCinder(async (auth) => {
        if (createdVolume) await this.deps.cloud.cinder.deleteVolume(auth, volume.id).catch(() => {});
        else await this.deps.cloud.cinder.resetVolumeStatus(auth, volume.id, volume.status);
      });
      throw error;
    }
  }

  private async enqueueRestoreJob(
    caller: Caller,
    backup: VolumeBackup,
    volume: Volume,
    createdVolume: boolean,
  ) {
    const marked = await JobEngine.enqueueWith<{ id: string }>(
      this.deps.prisma,
      Prisma.sql`
        UPDATE "VolumeBackup" SET status = 'restoring', "updatedAt" = ${new Date()}
        WHERE id = ${backup.id}::uuid AND status = ANY(${RESTORABLE}::"VolumeBackupStatus"[])`,
      {
        kind: 'volume_backup_restore',
        projectId: caller.projectId,
        userId: caller.userId,
        volumeBackupId: backup.id,
        ...restoreKeys({ backupId: backup.id, volumeId: volume.id, repositoryId: backup.repositoryId }),
        state: { volumeId: volume.id, createdVolume },
      },
    );
    if (marked.length === 0) throw conflict(`Backup ${backup.id} is no longer available to restore from.`);
    this.deps.wakeJobs();
  }

  /**
   * A rollback holds the volume in `maintenance` while it runs: that is a conflict with our own job
   * (409 naming it, worth retrying), not the caller's bad input.
   */
  private async refuseDuringRollback(volumeId: string) {
    const rollback = await this.deps.prisma.job.findFirst({
      where: {
        kind: 'volume_rollback',
        status: { in: ['queued', 'running'] },
        exclusiveKeys: { has: `volume:${volumeId}` },
      },
      select: { id: true },
    });
    if (rollback) {
      throw conflict(
        `Volume ${volumeId} is being rolled back (job ${rollback.id}); back it up when the rollback has finished.`,
      );
    }
  }

  /** The caller's backup (an admin's: anyone's), or 404 — never 403, so ids of others leak nothing. */
  private async visible(caller: Caller, id: string): Promise<VolumeBackup> {
    const backup = await this.deps.prisma.volumeBackup.findFirst({ where: { id, ...lookupScope(caller) } });
    if (!backup) throw notFound(`Backup ${id} could not be found.`);
    return backup;
  }

  private async withDependents(rows: VolumeBackup[]): Promise<VolumeBackupRecord[]> {
    if (rows.length === 0) return [];
    const parents = await this.deps.prisma.volumeBackup.findMany({
      where: { parentId: { in: rows.map((r) => r.id) }, status: { not: 'deleting' } },
      select: { parentId: true },
      distinct: ['parentId'],
    });
    const withChildren = new Set(parents.map((p) => p.parentId));
    return rows.map((row) => ({ ...row, hasDependentBackups: withChildren.has(row.id) }));
  }
}

function assertRestorable(backup: VolumeBackup) {
  if (!RESTORABLE.includes(backup.status)) {
    throw badRequest(
      `Invalid backup: Backup status must be available, but the current status is "${backup.status}".`,
    );
  }
}
