import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { completeAttachment, createAttachment, removeAttachment } from '../cinder/attachments.js';
import { findSnapshot, findVolume } from '../cinder/policy.js';
import { sparseCopy } from '../cinder/volume-files.js';
import { createVolume, deleteVolume, materializeVolume, type VolumeSource } from '../cinder/volumes.js';
import type { AuthContext } from '../common/auth.js';
import { ApiError, badRequest } from '../common/errors.js';
import { uuid } from '../common/ids.js';
import { atLeast, type Microversion } from '../common/microversion.js';
import { nowIso } from '../common/time.js';
import { findVisibleImage, imagePath } from '../glance/images.js';
import type { Sim } from '../sim/context.js';
import type { Bdm, Server } from '../state/types.js';
import { findFlavor } from './flavors.js';

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

const invalidField = (field: string, value: unknown, why: string) =>
  badRequest(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(value)}. ${why}`);

export const rootDiskPath = (sim: Sim, serverId: string) => join(sim.instancesDir, serverId, 'disk');

/** Next free /dev/vdX name. */
function nextDevice(used: Set<string>): string {
  for (let c = 'a'.charCodeAt(0); c <= 'z'.charCodeAt(0); c++) {
    const name = `/dev/vd${String.fromCharCode(c)}`;
    if (!used.has(name)) return name;
  }
  throw badRequest('No free device name');
}

export function allocateDevice(s: Server, wanted: unknown): string {
  const used = new Set(s.bdms.map((b) => b.device_name));
  if (typeof wanted === 'string' && wanted && !used.has(wanted)) return wanted;
  return nextDevice(used);
}

function imageIdOf(ref: unknown): string | undefined {
  if (typeof ref !== 'string' || ref === '') return undefined;
  return ref.split('/').pop();
}

const badImage = () => badRequest('Can not find requested image');

/**
 * Turns `block_device_mapping_v2` into Bdm records, creating the Cinder volumes Nova would create
 * (their ids go to `sources`, so that a later validation failure can take them back).
 */
function parseBdms(
  sim: Sim,
  auth: AuthContext,
  raw: unknown,
  serverId: string,
  sources: Map<string, VolumeSource>,
): Bdm[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalidField('block_device_mapping_v2', raw, "Value is not of type 'array'");
  const bdms: Bdm[] = [];
  const used = new Set<string>();
  for (const item of raw) {
    const m = obj(item);
    if (!m) throw invalidField('block_device_mapping_v2', item, "Value is not of type 'object'");
    const sourceType = m.source_type as Bdm['source_type'];
    const destination = (m.destination_type ??
      (sourceType === 'volume' ? 'volume' : 'local')) as Bdm['destination_type'];
    if (!['image', 'volume', 'snapshot', 'blank'].includes(sourceType)) {
      throw badRequest(
        `Block Device Mapping is Invalid: source_type ${String(sourceType)} is not supported.`,
      );
    }
    const bootIndex = m.boot_index === undefined || m.boot_index === null ? null : Number(m.boot_index);
    const size = m.volume_size === undefined || m.volume_size === null ? null : Number(m.volume_size);
    const device =
      typeof m.device_name === 'string' && !used.has(m.device_name) ? m.device_name : nextDevice(used);
    used.add(device);
    const bdm: Bdm = {
      uuid: uuid(),
      volume_id: null,
      attachment_id: null,
      device_name: device,
      boot_index: bootIndex,
      source_type: sourceType,
      destination_type: destination,
      delete_on_termination: m.delete_on_termination === true,
      volume_size: size,
      image_id: null,
      snapshot_id: null,
      tag: typeof m.tag === 'string' ? m.tag : null,
    };
    const id = typeof m.uuid === 'string' ? m.uuid : undefined;
    if (sourceType === 'volume') {
      if (!id) throw badRequest('Block Device Mapping is Invalid: uuid is required for a volume source.');
      let v: ReturnType<typeof findVolume>;
      try {
        v = findVolume(sim, auth, id);
      } catch {
        throw badRequest(`Block Device Mapping is Invalid: failed to get volume ${id}.`);
      }
      if (v.status !== 'available' && !(v.multiattach && v.status === 'in-use')) {
        throw badRequest(
          `Invalid volume: volume '${id}' status must be 'available'. Currently in '${v.status}'`,
        );
      }
      // Nova's _get_bdm_image_metadata: the root volume must be bootable (InvalidBDMVolumeNotBootable).
      if (bootIndex === 0 && !v.bootable) throw badRequest(`Block Device ${id} is not bootable.`);
      bdm.volume_id = v.id;
    } else if (destination === 'volume') {
      // Nova creates the volume: from the image, a snapshot, or blank.
      let source: VolumeSource;
      if (sourceType === 'image') {
        const img = id ? findVisibleImage(sim, auth, id) : undefined;
        if (!img) throw badImage();
        if (!size) {
          throw badRequest(
            "Block Device Mapping is Invalid: Images with destination_type 'volume' need to have a non-zero size specified",
          );
        }
        bdm.image_id = img.id;
        source = { kind: 'image', id: img.id };
      } else if (sourceType === 'snapshot') {
        if (!id) throw badRequest('Block Device Mapping is Invalid: uuid is required for a snapshot source.');
        let snapId: string;
        try {
          snapId = findSnapshot(sim, auth, id).id;
        } catch {
          throw badRequest(`Block Device Mapping is Invalid: failed to get snapshot ${id}.`);
        }
        bdm.snapshot_id = snapId;
        source = { kind: 'snapshot', id: snapId };
      } else {
        if (!size)
          throw badRequest(
            'Block Device Mapping is Invalid: You specified more local devices than the limit allows',
          );
        source = { kind: 'blank' };
      }
      const v = createVolume(sim, auth, {
        size: size ?? undefined,
        name: '',
        imageRef: source.kind === 'image' ? source.id : undefined,
        snapshot_id: source.kind === 'snapshot' ? source.id : undefined,
      });
      v.description = `Created by Nova for instance ${serverId}`;
      bdm.volume_id = v.id;
      sources.set(v.id, source);
    } else if (sourceType === 'image') {
      const img = id ? findVisibleImage(sim, auth, id) : undefined;
      if (!img) throw badImage();
      bdm.image_id = img.id;
    }
    bdms.push(bdm);
  }
  return bdms;
}

/** Takes back volumes made for a server whose request then failed validation. */
function dropCreatedVolumes(sim: Sim, ids: Iterable<string>): void {
  const state = sim.store.state;
  for (const id of ids) {
    delete state.volumes[id];
    for (const t of sim.scheduler.pendingFor(id)) delete state.tasks[t.id];
  }
}

/** POST /servers. */
export function createServer(
  sim: Sim,
  auth: AuthContext,
  mv: Microversion,
  body: Record<string, unknown>,
): Server {
  const input = obj(body.server);
  if (!input) throw badRequest("Invalid input for field/attribute server. 'server' is a required property");
  if (typeof input.name !== 'string' || input.name.length === 0 || input.name.length > 255) {
    throw invalidField('name', input.name, "'name' is a required property");
  }
  const flavor =
    typeof input.flavorRef === 'string' || typeof input.flavorRef === 'number'
      ? findFlavor(String(input.flavorRef))
      : undefined;
  if (!flavor) throw badRequest(`Flavor ${String(input.flavorRef)} could not be found.`);
  let networks: 'auto' | 'none' = 'auto';
  const nets = input.networks;
  if (atLeast(mv, '2.37')) {
    if (nets === undefined) throw invalidField('server', '...', "'networks' is a required property");
    if (nets === 'none') networks = 'none';
    else if (nets !== 'auto' && !Array.isArray(nets))
      throw invalidField('networks', nets, "'networks' must be 'auto', 'none' or a list");
  } else if (nets !== undefined && !Array.isArray(nets)) {
    throw invalidField('networks', nets, `${JSON.stringify(nets)} is not of type 'array'`);
  }
  if (input.description !== undefined && !atLeast(mv, '2.19')) {
    throw badRequest(
      "Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)",
    );
  }
  const metadata = obj(input.metadata) ?? {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw invalidField(`metadata.${k}`, v, "is not of type 'string'");
  }
  const id = uuid();
  const sources = new Map<string, VolumeSource>();
  let bdms: Bdm[];
  // '' for a volume-backed server (also one booted from a volume Nova made from an image).
  let serverImage = '';
  try {
    bdms = parseBdms(sim, auth, input.block_device_mapping_v2, id, sources);
    const root = bdms.find((b) => b.boot_index === 0);
    if (!root || root.destination_type === 'local') {
      const img = imageIdOf(input.imageRef) ?? root?.image_id ?? undefined;
      const image = img ? findVisibleImage(sim, auth, img) : undefined;
      if (!img) throw badRequest('Missing imageRef attribute');
      if (image?.status !== 'active') throw badImage();
      serverImage = image.id;
    }
  } catch (err) {
    dropCreatedVolumes(sim, sources.keys());
    throw err;
  }
  const state = sim.store.state;
  state.counters.instance += 1;
  const n = state.counters.instance;
  const now = nowIso();
  const az = typeof input.availability_zone === 'string' ? input.availability_zone : null;
  const server: Server = {
    id,
    project_id: auth.projectId,
    user_id: auth.userId,
    name: input.name,
    description: typeof input.description === 'string' ? input.description : null,
    image_id: serverImage,
    flavor_id: flavor.id,
    vm_state: 'building',
    task_state: 'scheduling',
    power_state: 0,
    locked: false,
    locked_by: null,
    locked_reason: null,
    metadata: metadata as Record<string, string>,
    tags: Array.isArray(input.tags) ? (input.tags as string[]) : [],
    key_name: typeof input.key_name === 'string' ? input.key_name : null,
    availability_zone: az ?? 'nova',
    pinned_availability_zone: az,
    host: 'sim-compute',
    instance_name: `instance-${n.toString(16).padStart(8, '0')}`,
    launch_index: 0,
    reservation_id: `r-${randomBytes(4).toString('hex')}`,
    root_device_name: '/dev/vda',
    scheduler_hints: obj(body['os:scheduler_hints']) ?? {},
    networks,
    fixed_ip: networks === 'none' ? null : `10.0.0.${(n % 250) + 3}`,
    mac: networks === 'none' ? null : `fa:16:3e:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`,
    bdms: [],
    fault: null,
    created_at: now,
    updated_at: now,
    launched_at: null,
  };
  if (serverImage && !bdms.some((b) => b.device_name === '/dev/vda')) {
    server.bdms.push({
      uuid: uuid(),
      volume_id: null,
      attachment_id: null,
      device_name: '/dev/vda',
      boot_index: 0,
      source_type: 'image',
      destination_type: 'local',
      delete_on_termination: true,
      volume_size: null,
      image_id: serverImage,
      snapshot_id: null,
      tag: null,
    });
  }
  server.bdms.push(...bdms.filter((b) => !(b.destination_type === 'local' && b.source_type === 'image')));
  // Existing volumes are reserved for the instance now, as Nova does at the API.
  for (const b of server.bdms) {
    if (b.source_type === 'volume' && b.volume_id) {
      const v = state.volumes[b.volume_id]!;
      b.attachment_id = createAttachment(sim, auth.projectId, v, {
        instanceUuid: id,
        connector: null,
        mode: 'rw',
      }).id;
    }
  }
  state.servers[id] = server;
  sim.scheduler.schedule('server.build', id, { sources: Object.fromEntries(sources) });
  return server;
}

export function touchServer(s: Server): void {
  s.updated_at = nowIso();
}

/** Attaches a volume BDM for real: the Cinder attachment becomes `attached`, the volume `in-use`. */
export function completeVolumeAttach(sim: Sim, s: Server, b: Bdm): void {
  const v = b.volume_id ? sim.store.state.volumes[b.volume_id] : undefined;
  if (!v) throw new ApiError(500, `volume ${b.volume_id} vanished`);
  let a = b.attachment_id ? sim.store.state.attachments[b.attachment_id] : undefined;
  if (!a) {
    a = createAttachment(sim, s.project_id, v, { instanceUuid: s.id, connector: null, mode: 'rw' });
    b.attachment_id = a.id;
  }
  a.attached_host = s.host;
  a.connector = { host: s.host, mountpoint: b.device_name, platform: 'x86_64', os_type: 'linux' };
  completeAttachment(sim, a, v, b.device_name);
}

export function registerServerTasks(sim: Sim): void {
  const state = () => sim.store.state;

  sim.scheduler.register('server.build', async (task) => {
    const s = state().servers[task.target];
    if (s?.vm_state !== 'building') return;
    const sources = (task.args.sources ?? {}) as Record<string, VolumeSource>;
    try {
      s.task_state = 'spawning';
      for (const b of s.bdms) {
        if (!b.volume_id) continue;
        const source = sources[b.volume_id];
        if (source) await materializeVolume(sim, b.volume_id, source);
        if (state().volumes[b.volume_id]?.status === 'error') throw new Error(`volume ${b.volume_id} failed`);
        completeVolumeAttach(sim, s, b);
      }
      if (s.image_id) {
        await mkdir(join(sim.instancesDir, s.id), { recursive: true });
        const src = imagePath(sim, s.image_id);
        const size = state().images[s.image_id]?.size ?? 0;
        await sparseCopy(src, rootDiskPath(sim, s.id), size);
      }
      s.vm_state = 'active';
      s.power_state = 1;
      s.task_state = null;
      s.launched_at = nowIso();
    } catch (err) {
      s.vm_state = 'error';
      s.task_state = null;
      s.fault = { code: 500, message: 'Build of instance failed', details: String(err), created: nowIso() };
    }
    touchServer(s);
  });

  sim.scheduler.register('server.delete', async (task) => {
    const s = state().servers[task.target];
    if (!s) return;
    for (const b of s.bdms) {
      const a = b.attachment_id ? state().attachments[b.attachment_id] : undefined;
      if (a) removeAttachment(sim, a);
      const v = b.volume_id ? state().volumes[b.volume_id] : undefined;
      if (v && b.delete_on_termination) {
        try {
          deleteVolume(sim, v, { cascade: false, force: false });
        } catch (err) {
          sim.logger.info({ err, volume: v.id }, 'delete_on_termination volume kept');
        }
      }
    }
    await rm(join(sim.instancesDir, s.id), { recursive: true, force: true });
    delete state().servers[s.id];
  });
}
