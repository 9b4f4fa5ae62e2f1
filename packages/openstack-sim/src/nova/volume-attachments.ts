import { createAttachment, removeAttachment, settleVolume } from '../cinder/attachments.js';
import { findVolume } from '../cinder/policy.js';
import { touch } from '../cinder/volumes.js';
import type { AuthContext } from '../common/auth.js';
import { badRequest, conflict, notFound } from '../common/errors.js';
import { uuid } from '../common/ids.js';
import type { Sim } from '../sim/context.js';
import type { Bdm, Server } from '../state/types.js';
import { checkLock, checkState } from './policy.js';
import { allocateDevice, completeVolumeAttach, touchServer } from './servers.js';

/**
 * os-volume_attachments, kept consistent with Cinder: attach reserves a Cinder attachment at once
 * (volume `reserved`) and completes it later (`in-use`); detach puts the volume in `detaching` and
 * removes the attachment later (`available`).
 */

const ATTACHABLE_STATES = ['active', 'paused', 'stopped', 'suspended'];

export function attachVolume(
  sim: Sim,
  auth: AuthContext,
  s: Server,
  input: { volumeId: unknown; device: unknown; tag: unknown; deleteOnTermination: unknown },
): Bdm {
  checkLock(auth, s);
  checkState(s, 'attach_volume', ATTACHABLE_STATES);
  if (typeof input.volumeId !== 'string')
    throw badRequest("Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property");
  const v = findVolume(sim, auth, input.volumeId);
  if (s.bdms.some((b) => b.volume_id === v.id)) {
    throw conflict(`Volume ${v.id} is already attached to server ${s.id}`);
  }
  if (v.status !== 'available' && !(v.multiattach && v.status === 'in-use')) {
    throw badRequest(
      `Invalid volume: volume '${v.id}' status must be 'available'. Currently in '${v.status}'`,
    );
  }
  const bdm: Bdm = {
    uuid: uuid(),
    volume_id: v.id,
    attachment_id: null,
    device_name: allocateDevice(s, input.device),
    boot_index: null,
    source_type: 'volume',
    destination_type: 'volume',
    delete_on_termination: input.deleteOnTermination === true,
    volume_size: v.size,
    image_id: null,
    snapshot_id: null,
    tag: typeof input.tag === 'string' ? input.tag : null,
  };
  bdm.attachment_id = createAttachment(sim, auth.projectId, v, {
    instanceUuid: s.id,
    connector: null,
    mode: 'rw',
  }).id;
  s.bdms.push(bdm);
  touchServer(s);
  sim.scheduler.schedule('server.attach_volume', s.id, { bdm: bdm.uuid });
  return bdm;
}

export function detachVolume(sim: Sim, auth: AuthContext, s: Server, volumeId: string): void {
  checkLock(auth, s);
  const bdm = s.bdms.find((b) => b.volume_id === volumeId);
  if (!bdm) throw notFound(`Volume ${volumeId} is not attached to server ${s.id}`);
  if (bdm.boot_index === 0) throw badRequest('Cannot detach a root device volume');
  checkState(s, 'detach_volume', ATTACHABLE_STATES);
  const v = sim.store.state.volumes[volumeId];
  if (v && v.status === 'in-use') {
    v.status = 'detaching';
    touch(v);
  }
  sim.scheduler.schedule('server.detach_volume', s.id, { bdm: bdm.uuid });
}

export function registerVolumeAttachmentTasks(sim: Sim): void {
  sim.scheduler.register('server.attach_volume', (task) => {
    const s = sim.store.state.servers[task.target];
    const bdm = s?.bdms.find((b) => b.uuid === task.args.bdm);
    if (!s || !bdm) return;
    completeVolumeAttach(sim, s, bdm);
    touchServer(s);
  });
  sim.scheduler.register('server.detach_volume', (task) => {
    const s = sim.store.state.servers[task.target];
    const bdm = s?.bdms.find((b) => b.uuid === task.args.bdm);
    if (!s || !bdm) return;
    const a = bdm.attachment_id ? sim.store.state.attachments[bdm.attachment_id] : undefined;
    s.bdms = s.bdms.filter((b) => b !== bdm);
    const v = bdm.volume_id ? sim.store.state.volumes[bdm.volume_id] : undefined;
    if (a) removeAttachment(sim, a);
    else if (v) settleVolume(sim, v);
    touchServer(s);
  });
}
