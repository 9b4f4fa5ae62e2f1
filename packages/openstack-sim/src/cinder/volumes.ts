import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthContext } from '../common/auth.js';
import { ApiError, conflict, notFound } from '../common/errors.js';
import { uuid } from '../common/ids.js';
import { nowIso } from '../common/time.js';
import { findVisibleImage } from '../glance/images.js';
import type { Sim } from '../sim/context.js';
import type { Volume, VolumeStatus } from '../state/types.js';
import { findSnapshot, findVolume, invalidInput, invalidVolume } from './policy.js';
import { GiB } from './volume-files.js';

/** Where a new volume's content comes from; kept in the create task so a restart can redo it. */
export type VolumeSource =
  | { kind: 'blank' }
  | { kind: 'snapshot'; id: string }
  | { kind: 'volume'; id: string }
  | { kind: 'image'; id: string };

export interface CreateVolumeInput {
  size?: unknown;
  name?: unknown;
  description?: unknown;
  snapshot_id?: unknown;
  source_volid?: unknown;
  imageRef?: unknown;
  backup_id?: unknown;
  metadata?: unknown;
  availability_zone?: unknown;
  volume_type?: unknown;
  multiattach?: unknown;
}

const DELETABLE: VolumeStatus[] = [
  'available',
  'error',
  'error_restoring',
  'error_extending',
  'error_managing',
];
export const DELETE_REFUSED =
  'Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.';

function optString(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalidInput(`${field} must be a string`);
  if (v.length > 255) throw invalidInput(`${field} is too long`);
  return v;
}

export function parseMetadata(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidInput('metadata must be a dictionary');
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalidInput(`metadata value for ${k} must be a string`);
  }
  return { ...(v as Record<string, string>) };
}

function parseSize(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw invalidInput(`Volume size '${String(v)}' must be an integer and greater than 0`);
  }
  return n;
}

export const snapshotsOf = (sim: Sim, volumeId: string) =>
  Object.values(sim.store.state.snapshots).filter((s) => s.volume_id === volumeId);

/** POST /volumes: validates, records the volume as `creating` and schedules its content. */
export function createVolume(sim: Sim, auth: AuthContext, input: CreateVolumeInput): Volume {
  let size = parseSize(input.size);
  let source: VolumeSource = { kind: 'blank' };
  let bootable = false;
  let imageMetadata: Record<string, string> | null = null;
  if (input.backup_id !== undefined && input.backup_id !== null) {
    throw notFound(`Backup ${String(input.backup_id)} could not be found.`);
  }
  if (typeof input.snapshot_id === 'string') {
    const snap = findSnapshot(sim, auth, input.snapshot_id);
    if (snap.status !== 'available') {
      throw new ApiError(
        400,
        "Invalid snapshot: Originating snapshot status must be one of 'available' values",
      );
    }
    size ??= snap.size;
    if (size < snap.size) {
      throw invalidInput(
        `Volume size '${size}'GB cannot be smaller than the snapshot size ${snap.size}GB. They must be >= original snapshot size.`,
      );
    }
    source = { kind: 'snapshot', id: snap.id };
    bootable = sim.store.state.volumes[snap.volume_id]?.bootable ?? false;
  } else if (typeof input.source_volid === 'string') {
    const src = findVolume(sim, auth, input.source_volid);
    if (!['available', 'in-use'].includes(src.status)) {
      throw invalidVolume(
        `Volume ${src.id} status must be available or in-use, but current status is: ${src.status}.`,
      );
    }
    size ??= src.size;
    if (size < src.size) {
      throw invalidInput(
        `Volume size '${size}'GB cannot be smaller than the source volume size ${src.size}GB.`,
      );
    }
    source = { kind: 'volume', id: src.id };
    bootable = src.bootable;
  } else if (typeof input.imageRef === 'string') {
    const image = findVisibleImage(sim, auth, input.imageRef);
    if (!image) throw badImage(input.imageRef);
    if (image.status !== 'active') throw invalidInput(`Image ${image.id} is not active.`);
    const needed = Math.max(Math.ceil((image.size ?? 0) / GiB), image.min_disk);
    size ??= needed;
    if (size < needed)
      throw invalidInput(`Size of specified image ${needed} is larger than volume size ${size}.`);
    source = { kind: 'image', id: image.id };
    bootable = true;
    imageMetadata = {
      image_id: image.id,
      image_name: image.name ?? '',
      checksum: image.checksum ?? '',
      container_format: image.container_format ?? '',
      disk_format: image.disk_format ?? '',
      min_disk: String(image.min_disk),
      min_ram: String(image.min_ram),
      size: String(image.size ?? 0),
    };
  }
  if (size === undefined) throw invalidInput('Size must be specified');
  const az = input.availability_zone;
  if (az !== undefined && az !== null && az !== 'nova')
    throw invalidInput(`Availability zone '${String(az)}' is invalid.`);
  const type = input.volume_type;
  if (type !== undefined && type !== null && type !== '__DEFAULT__') {
    throw notFound(`Volume type with name ${String(type)} could not be found.`);
  }
  if (input.multiattach !== undefined && typeof input.multiattach !== 'boolean') {
    throw invalidInput('multiattach must be a boolean');
  }
  const volume: Volume = {
    id: uuid(),
    project_id: auth.projectId,
    user_id: auth.userId,
    name: optString(input.name, 'name'),
    description: optString(input.description, 'description'),
    size,
    status: 'creating',
    attach_status: 'detached',
    migration_status: null,
    bootable,
    multiattach: input.multiattach === true,
    readonly: false,
    availability_zone: 'nova',
    snapshot_id: source.kind === 'snapshot' ? source.id : null,
    source_volid: source.kind === 'volume' ? source.id : null,
    image_id: source.kind === 'image' ? source.id : null,
    image_metadata: imageMetadata,
    metadata: parseMetadata(input.metadata),
    created_at: nowIso(),
    updated_at: null,
  };
  sim.store.state.volumes[volume.id] = volume;
  sim.scheduler.schedule('volume.create', volume.id, { source });
  return volume;
}

const badImage = (id: string) =>
  new ApiError(400, `Invalid image identifier or unable to access requested image. (image ${id})`);

export function touch(v: { updated_at: string | null }): void {
  v.updated_at = nowIso();
}

/**
 * Makes the volume's file from its source and flips `creating` → `available` (or `error`).
 * Idempotent, so a restart may run it again; Nova calls it directly when it boots from a new volume.
 */
export async function materializeVolume(sim: Sim, volumeId: string, source: VolumeSource): Promise<void> {
  const v = sim.store.state.volumes[volumeId];
  if (!v) return;
  const { files } = sim;
  try {
    if (!existsSync(files.volumePath(v.id)) || v.status === 'creating') {
      switch (source.kind) {
        case 'blank':
          await files.createBlank(v.id, v.size);
          break;
        case 'snapshot':
          await files.createFromFile(v.id, files.snapshotPath(source.id), v.size);
          break;
        case 'volume':
          await files.createFromFile(v.id, files.volumePath(source.id), v.size);
          break;
        case 'image':
          await files.createFromFile(v.id, join(sim.imagesDir, source.id), v.size);
          break;
      }
    }
    if (v.status === 'creating') v.status = 'available';
  } catch (err) {
    sim.logger.info({ err, volumeId }, 'volume create failed');
    if (v.status === 'creating') v.status = 'error';
  }
  touch(v);
}

/** DELETE /volumes/{id} and os-force_delete. */
export function deleteVolume(sim: Sim, v: Volume, opts: { cascade: boolean; force: boolean }): void {
  const snaps = snapshotsOf(sim, v.id);
  // As Cinder's conditional update: force skips only the status condition.
  const statusOk = opts.force || DELETABLE.includes(v.status);
  const attached = Object.values(sim.store.state.attachments).some(
    (a) => a.volume_id === v.id && a.status === 'attached',
  );
  if (
    !statusOk ||
    attached ||
    v.attach_status === 'attached' ||
    v.migration_status === 'migrating' ||
    (snaps.length > 0 && !opts.cascade)
  ) {
    throw invalidVolume(DELETE_REFUSED);
  }
  if (opts.cascade && snaps.some((s) => s.status !== 'available' && s.status !== 'error')) {
    throw invalidVolume('Snapshot status must be available or error to cascade delete.');
  }
  v.status = 'deleting';
  touch(v);
  for (const s of snaps) {
    s.status = 'deleting';
    touch(s);
  }
  sim.scheduler.schedule('volume.delete', v.id, { snapshots: snaps.map((s) => s.id) });
}

export function extendVolume(sim: Sim, v: Volume, newSize: unknown, allowInUse: boolean): void {
  const n = typeof newSize === 'string' && /^\d+$/.test(newSize) ? Number(newSize) : newSize;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw invalidInput(`New size for extend must be an integer, got ${String(newSize)}`);
  }
  const allowed = allowInUse ? ['available', 'in-use'] : ['available'];
  if (!allowed.includes(v.status)) {
    throw invalidVolume(
      `Volume ${v.id} status must be '${allowed.join("' or '")}' to extend, currently ${v.status}.`,
    );
  }
  if (n <= v.size) {
    throw invalidInput(
      `New size for extend must be greater than current size. (current: ${v.size}, extended: ${n}).`,
    );
  }
  const previous = v.status;
  v.status = 'extending';
  touch(v);
  sim.scheduler.schedule('volume.extend', v.id, { new_size: n, previous });
}

/** Cinder 3.40 revert: only the newest snapshot, only of an available volume of the same size. */
export function revertVolume(sim: Sim, v: Volume, snapshotId: unknown): void {
  const snaps = snapshotsOf(sim, v.id).sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const latest = snaps[0];
  if (!latest) throw new ApiError(400, `Volume ${v.id} doesn't have any snapshots.`);
  if (typeof snapshotId !== 'string' || snapshotId !== latest.id) {
    throw new ApiError(
      400,
      `Specified snapshot ${String(snapshotId)} is None or not the latest one of volume ${v.id}.`,
    );
  }
  if (v.size !== latest.size) {
    throw new ApiError(
      400,
      `Can't revert volume ${v.id} to its latest snapshot ${latest.id}. The volume size must be equal to the snapshot size.`,
    );
  }
  if (v.status !== 'available' || latest.status !== 'available') {
    throw conflict(
      `Invalid volume: Volume ${v.id} status must be available and snapshot ${latest.id} status must be available to revert, but current status are: ${v.status} and ${latest.status}.`,
    );
  }
  v.status = 'reverting';
  latest.status = 'restoring';
  touch(v);
  touch(latest);
  sim.scheduler.schedule('volume.revert', v.id, { snapshot_id: latest.id });
}

export function registerVolumeTasks(sim: Sim): void {
  sim.scheduler.register('volume.create', (task) =>
    materializeVolume(sim, task.target, task.args.source as VolumeSource),
  );

  sim.scheduler.register('volume.delete', async (task) => {
    const state = sim.store.state;
    const v = state.volumes[task.target];
    for (const sid of (task.args.snapshots as string[] | undefined) ?? []) {
      if (v) await sim.files.deleteSnapshot(sid, v.id);
      delete state.snapshots[sid];
    }
    await sim.files.deleteVolume(task.target);
    for (const a of Object.values(state.attachments))
      if (a.volume_id === task.target) delete state.attachments[a.id];
    delete state.volumes[task.target];
  });

  sim.scheduler.register('volume.extend', async (task) => {
    const v = sim.store.state.volumes[task.target];
    if (!v) return;
    const newSize = task.args.new_size as number;
    try {
      await sim.files.extend(v.id, newSize);
      v.size = newSize;
      if (v.status === 'extending') v.status = task.args.previous as VolumeStatus;
    } catch (err) {
      sim.logger.info({ err }, 'extend failed');
      if (v.status === 'extending') v.status = 'error_extending';
    }
    touch(v);
  });

  sim.scheduler.register('volume.revert', async (task) => {
    const v = sim.store.state.volumes[task.target];
    const s = sim.store.state.snapshots[task.args.snapshot_id as string];
    if (!v || !s) return;
    try {
      await sim.files.revert(v.id, s.id, v.size);
      if (v.status === 'reverting') v.status = 'available';
    } catch (err) {
      sim.logger.info({ err }, 'revert failed');
      if (v.status === 'reverting') v.status = 'error';
    }
    if (s.status === 'restoring') s.status = 'available';
    touch(v);
    touch(s);
  });
}
