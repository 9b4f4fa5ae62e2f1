import { randomUUID } from 'node:crypto';
import type { Caller } from '../../auth/caller.js';
import type { Db } from '../../db/client.js';
import type { InstanceArtifactStatus, InstanceSnapshot, Prisma } from '../../generated/prisma/client.js';
import { JobEngine } from '../../jobs/engine.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';
import { conflict, notFound, toDomainError } from '../errors.js';
import { holdUntil, releaseHeldJob } from '../held-jobs.js';
import { inspectInstance } from '../instances/inspect.js';
import {
  captureNames,
  type ListInstanceArtifactsQuery,
  listScope,
  sortColumn,
  visibleTo,
} from '../instances/listing.js';
import { instanceSnapshotCreateKeys, instanceSnapshotDeleteKeys } from '../instances/locks.js';
import { keysetPage } from '../pagination.js';
import { assertWriter } from '../visibility.js';

/** One volume's Cinder snapshot in an instance snapshot (stored as the wire names it). */
export interface VolumeSnapshotEntry {
  volume_id: string;
  snapshot_id: string | null;
  device: string | null;
  boot_index: number | null;
}

export interface CreateInstanceSnapshotArgs {
  instance_id: string;
  name?: string | null;
  description?: string | null;
  metadata?: Record<string, string>;
}

export interface UpdateInstanceSnapshotArgs {
  name?: string | null;
  description?: string | null;
  metadata?: Record<string, string>;
}

/** State of the create job: what the request made (the job finds it by name if the request died). */
export type InstanceSnapshotCreateState = {
  /** volume id → Cinder snapshot id */
  snapshotIds?: Record<string, string>;
  imageId?: string | null;
  /** Whether the root disk is an image (a Glance image is part of the snapshot). */
  expectImage?: boolean;
  /** The request failed while creating: the job only cleans up. */
  abort?: string;
};

const DELETABLE: InstanceArtifactStatus[] = ['available', 'error', 'error_deleting'];

interface Deps {
  prisma: Db;
  cloud: OpenStackCloud;
  wakeJobs(): void;
  /** Timeout of one OpenStack call: how long a held job waits for its request. */
  holdTimeoutMs: number;
}

/**
 * Instance snapshots (SPEC §5.5): a Cinder snapshot of every attached volume, taken together with the
 * caller's token (so they are the caller's, and volumes roll back to them), a Glance image through
 * createImage for an image-backed root disk, and the instance's description. A job waits for them
 * to become available, and removes them again on failure or delete.
 */
export class InstanceSnapshotService {
  constructor(private readonly deps: Deps) {}

  async list(
    caller: Caller,
    query: ListInstanceArtifactsQuery,
  ): Promise<{ snapshots: InstanceSnapshot[]; more: boolean }> {
    const { scope, filters } = listScope(caller, query);
    const { rows, more } = await keysetPage(query.page, sortColumn(query), {
      marker: (id) => this.deps.prisma.instanceSnapshot.findFirst({ where: { ...scope, id } }),
      rows: ({ where, orderBy, take }) =>
        this.deps.prisma.instanceSnapshot.findMany({
          where: { AND: [filters, where as Prisma.InstanceSnapshotWhereInput] },
          orderBy: orderBy as Prisma.InstanceSnapshotOrderByWithRelationInput[],
          take,
        }),
    });
    return { snapshots: rows, more };
  }

  async get(caller: Caller, id: string): Promise<InstanceSnapshot> {
    const snapshot = await this.deps.prisma.instanceSnapshot.findFirst({
      where: { id, ...visibleTo(caller) },
    });
    if (!snapshot) throw notFound(`Instance snapshot ${id} could not be found.`);
    return snapshot;
  }

  async create(caller: Caller, args: CreateInstanceSnapshotArgs): Promise<InstanceSnapshot> {
    assertWriter(caller);
    const { cloud, prisma } = this.deps;
    const instance = await inspectInstance(cloud, caller, args.instance_id, 'an instance snapshot');
    const id = randomUUID();
    const entries: VolumeSnapshotEntry[] = instance.volumes.map((v) => ({
      volume_id: v.volumeId,
      snapshot_id: null,
      device: v.device,
      boot_index: v.bootIndex,
    }));
    const expectImage = instance.rootImageId !== null;
    const job = await prisma.$transaction(async (tx) => {
      await tx.instanceSnapshot.create({
        data: {
          id,
          projectId: caller.projectId,
          userId: caller.userId,
          name: args.name ?? null,
          description: args.description ?? null,
          instanceId: instance.id,
          status: 'creating',
          volumeSnapshots: entries as unknown as Prisma.InputJsonValue,
          instance: instance.description as Prisma.InputJsonValue,
          metadata: args.metadata ?? {},
        },
      });
      return JobEngine.enqueue(tx, {
        kind: 'instance_snapshot_create',
        projectId: caller.projectId,
        userId: caller.userId,
        instanceSnapshotId: id,
        ...instanceSnapshotCreateKeys({
          snapshotId: id,
          instanceId: instance.id,
          volumeIds: instance.volumes.map((v) => v.volumeId),
        }),
        state: { expectImage } satisfies InstanceSnapshotCreateState,
        runAfter: holdUntil(this.deps.holdTimeoutMs),
      });
    });

    // All at once, so that the snapshots are as close to one point in time as the APIs allow.
    const cinder = cloud.cinderAuthFor(caller);
    const [snapshots, image] = await Promise.all([
      Promise.allSettled(
        instance.volumes.map((v) =>
          cloud.cinder.createSnapshot(cinder, {
            volume_id: v.volumeId,
            name: captureNames.snapshotOfVolume(id, v.volumeId),
            description: `instance snapshot ${id} of instance ${instance.id} (${v.device ?? 'no device'})`,
            force: true,
            metadata: { instance_snapshot_id: id },
          }),
        ),
      ),
      Promise.allSettled(
        expectImage
          ? [
              cloud.nova.createImage(cloud.novaAuthFor(caller), instance.id, captureNames.snapshotImage(id), {
                instance_snapshot_id: id,
              }),
            ]
          : [],
      ),
    ]);
    const snapshotIds: Record<string, string> = {};
    snapshots.forEach((result, i) => {
      const volume = instance.volumes[i];
      if (result.status === 'fulfilled' && volume) snapshotIds[volume.volumeId] = result.value.id;
    });
    const imageId = image[0]?.status === 'fulfilled' ? image[0].value : null;
    const failure = [...snapshots, ...image].find((r) => r.status === 'rejected');

    await prisma.instanceSnapshot.update({
      where: { id },
      data: {
        volumeSnapshots: entries.map((e) => ({
          ...e,
          snapshot_id: snapshotIds[e.volume_id] ?? null,
        })) as unknown as Prisma.InputJsonValue,
        imageId,
      },
    });
    const error = failure ? toDomainError((failure as PromiseRejectedResult).reason) : undefined;
    await releaseHeldJob(prisma, job.id, {
      snapshotIds,
      imageId,
      ...(error ? { abort: `creating the snapshots failed: ${error.message}` } : {}),
    } satisfies InstanceSnapshotCreateState);
    this.deps.wakeJobs();
    // The record stays (in error, once its job has removed what was made), so the failure is visible.
    if (error) throw error;
    return this.get(caller, id);
  }

  async update(caller: Caller, id: string, args: UpdateInstanceSnapshotArgs): Promise<InstanceSnapshot> {
    assertWriter(caller);
    const snapshot = await this.get(caller, id);
    const data: Prisma.InstanceSnapshotUpdateInput = {};
    if (args.name !== undefined) data.name = args.name;
    if (args.description !== undefined) data.description = args.description;
    if (args.metadata !== undefined) data.metadata = args.metadata;
    return this.deps.prisma.instanceSnapshot.update({ where: { id: snapshot.id }, data });
  }

  /** Removes the Cinder snapshots and the Glance image it made, then the record (a job). */
  async delete(caller: Caller, id: string): Promise<InstanceSnapshot> {
    assertWriter(caller);
    const snapshot = await this.get(caller, id);
    const entries = snapshot.volumeSnapshots as unknown as VolumeSnapshotEntry[];
    const deleted = await this.deps.prisma.$transaction(async (tx) => {
      const { count } = await tx.instanceSnapshot.updateMany({
        where: { id: snapshot.id, status: { in: DELETABLE } },
        data: { status: 'deleting' },
      });
      if (count === 0) {
        throw conflict(
          snapshot.status === 'deleting'
            ? `Instance snapshot ${snapshot.id} is already being deleted.`
            : `Invalid instance snapshot: status must be available or error, but the current status is "${snapshot.status}".`,
        );
      }
      await JobEngine.enqueue(tx, {
        kind: 'instance_snapshot_delete',
        projectId: snapshot.projectId,
        userId: caller.userId,
        instanceSnapshotId: snapshot.id,
        ...instanceSnapshotDeleteKeys({
          snapshotId: snapshot.id,
          volumeIds: entries.map((e) => e.volume_id),
        }),
      });
      return tx.instanceSnapshot.findUniqueOrThrow({ where: { id: snapshot.id } });
    });
    this.deps.wakeJobs();
    return deleted;
  }
}
