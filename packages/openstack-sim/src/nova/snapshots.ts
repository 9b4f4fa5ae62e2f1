import { Readable } from 'node:stream';
import { createSnapshot } from '../cinder/snapshots.js';
import type { AuthContext } from '../common/auth.js';
import { badRequest } from '../common/errors.js';
import { nowIso } from '../common/time.js';
import { deleteImage, newImage, storeImageData, storeImageFile } from '../glance/images.js';
import type { Sim } from '../sim/context.js';
import type { Image, Server } from '../state/types.js';
import { rootDiskPath, touchServer } from './servers.js';
import { volumeBdms } from './views.js';

/** Image properties Nova never copies from the base image into a snapshot. */
const NON_INHERITABLE = new Set([
  'cache_in_nova',
  'bittorrent',
  'img_signature_hash_method',
  'img_signature',
  'img_signature_key_type',
  'img_signature_certificate_uuid',
  'image_type',
  'instance_uuid',
  'base_image_ref',
  'backup_type',
  'block_device_mapping',
  'bdm_v2',
  'root_device_name',
  'owner_project_name',
  'owner_user_name',
  'user_id',
  'image_location',
]);

function inheritedProperties(sim: Sim, s: Server): Record<string, string> {
  let base: Record<string, string> = {};
  if (s.image_id) {
    base = sim.store.state.images[s.image_id]?.properties ?? {};
  } else {
    // Volume-backed: Nova keeps the boot volume's image metadata.
    const root = s.bdms.find((b) => b.boot_index === 0 && b.volume_id);
    const meta = root?.volume_id ? sim.store.state.volumes[root.volume_id]?.image_metadata : null;
    base = meta
      ? Object.fromEntries(
          Object.entries(meta).filter(
            ([k]) =>
              ![
                'image_id',
                'image_name',
                'checksum',
                'size',
                'min_disk',
                'min_ram',
                'container_format',
                'disk_format',
              ].includes(k),
          ),
        )
      : {};
  }
  return Object.fromEntries(Object.entries(base).filter(([k]) => !NON_INHERITABLE.has(k)));
}

function stringMetadata(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw badRequest('Invalid input for field/attribute metadata.');
  return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, String(val)]));
}

/**
 * createImage / createBackup of an image-backed server: the root disk is uploaded as the new
 * image's data. task_state image_snapshot → image_pending_upload → image_uploading → null;
 * the image queued → saving → active.
 */
export function snapshotImageBacked(
  sim: Sim,
  auth: AuthContext,
  s: Server,
  name: string,
  metadata: unknown,
  backup?: { type: string; rotation: number },
): Image {
  const base = s.image_id ? sim.store.state.images[s.image_id] : undefined;
  const img = newImage({
    owner: auth.projectId,
    name,
    container_format: base?.container_format ?? 'bare',
    disk_format: base?.disk_format ?? 'raw',
    min_disk: 0,
    properties: {
      ...inheritedProperties(sim, s),
      ...stringMetadata(metadata),
      image_type: backup ? 'backup' : 'snapshot',
      instance_uuid: s.id,
      base_image_ref: s.image_id,
      owner_project_name: auth.projectName,
      owner_user_name: auth.userName,
      user_id: auth.userId,
      ...(backup ? { backup_type: backup.type } : {}),
    },
  });
  sim.store.state.images[img.id] = img;
  s.task_state = backup ? 'image_backup' : 'image_snapshot';
  touchServer(s);
  sim.scheduler.schedule('server.image_upload', s.id, { image_id: img.id, step: 1, backup: backup ?? null });
  return img;
}

/**
 * createImage of a volume-backed server, as Nova's snapshot_volume_backed: a forced Cinder
 * snapshot of every attached volume (owned by the caller's project) and an image of size 0 whose
 * properties carry the block device mapping (JSON string), `bdm_v2` and `root_device_name`.
 */
export async function snapshotVolumeBacked(
  sim: Sim,
  auth: AuthContext,
  s: Server,
  name: string,
  metadata: unknown,
): Promise<Image> {
  const mapping: Record<string, unknown>[] = [];
  const snapshotIds: string[] = [];
  s.task_state = 'image_snapshot';
  for (const b of volumeBdms(s)) {
    const v = sim.store.state.volumes[b.volume_id!]!;
    let snap: Awaited<ReturnType<typeof createSnapshot>>;
    try {
      snap = await createSnapshot(sim, auth, v, {
        name: `snapshot for ${name}`,
        description: v.description ?? '',
        force: true,
      });
    } catch (err) {
      s.task_state = null;
      throw err;
    }
    snapshotIds.push(snap.id);
    mapping.push({
      boot_index: b.boot_index,
      delete_on_termination: b.delete_on_termination,
      destination_type: 'volume',
      device_name: b.device_name,
      device_type: 'disk',
      disk_bus: 'virtio',
      guest_format: null,
      image_id: null,
      no_device: null,
      snapshot_id: snap.id,
      source_type: 'snapshot',
      tag: b.tag,
      volume_id: null,
      volume_size: v.size,
      volume_type: null,
    });
  }
  const img = newImage({
    owner: auth.projectId,
    name,
    container_format: 'bare',
    disk_format: 'raw',
    properties: {
      ...inheritedProperties(sim, s),
      ...stringMetadata(metadata),
      block_device_mapping: JSON.stringify(mapping),
      bdm_v2: 'True',
      root_device_name: s.root_device_name,
      image_type: 'snapshot',
      instance_uuid: s.id,
      owner_project_name: auth.projectName,
      owner_user_name: auth.userName,
      user_id: auth.userId,
    },
  });
  sim.store.state.images[img.id] = img;
  touchServer(s);
  sim.scheduler.schedule('server.bfv_image', s.id, { image_id: img.id, snapshots: snapshotIds });
  return img;
}

export function registerSnapshotImageTasks(sim: Sim): void {
  const state = () => sim.store.state;

  sim.scheduler.register('server.image_upload', async (task) => {
    const s = state().servers[task.target];
    const img = state().images[task.args.image_id as string];
    const step = task.args.step as number;
    const backup = task.args.backup as { type: string; rotation: number } | null;
    if (!img) {
      if (s) s.task_state = null;
      return;
    }
    if (step === 1) {
      if (s) s.task_state = 'image_pending_upload';
      sim.scheduler.schedule('server.image_upload', task.target, { ...task.args, step: 2 });
      return;
    }
    if (s) s.task_state = 'image_uploading';
    try {
      await storeImageFile(sim, img, rootDiskPath(sim, task.target));
    } catch (err) {
      sim.logger.info({ err }, 'image upload failed');
      img.status = 'killed';
    }
    if (s) {
      s.task_state = null;
      touchServer(s);
    }
    if (backup) await rotateBackups(sim, task.target, backup);
  });

  sim.scheduler.register('server.bfv_image', async (task) => {
    const s = state().servers[task.target];
    const img = state().images[task.args.image_id as string];
    const snaps = (task.args.snapshots as string[]).map((id) => state().snapshots[id]);
    if (snaps.some((x) => x?.status === 'creating')) {
      // Nova waits for every snapshot to be available before the image is made.
      sim.scheduler.schedule('server.bfv_image', task.target, task.args);
      return;
    }
    if (img && img.status === 'queued') {
      if (snaps.every((x) => x?.status === 'available')) {
        await storeImageData(sim, img, Readable.from([]));
      } else {
        img.status = 'killed';
        img.updated_at = nowIso();
      }
    }
    if (s) {
      s.task_state = null;
      touchServer(s);
    }
  });
}

/** createBackup's rotation: keep the newest `rotation` backups of that type for the server. */
async function rotateBackups(
  sim: Sim,
  serverId: string,
  backup: { type: string; rotation: number },
): Promise<void> {
  const backups = Object.values(sim.store.state.images)
    .filter(
      (i) =>
        i.properties.image_type === 'backup' &&
        i.properties.instance_uuid === serverId &&
        i.properties.backup_type === backup.type,
    )
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  for (const old of backups.slice(backup.rotation)) await deleteImage(sim, old);
}
