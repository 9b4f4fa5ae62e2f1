import { conflict } from '../common/errors.js';
import { uuid } from '../common/ids.js';
import { nowIso } from '../common/time.js';
import type { Sim } from '../sim/context.js';
import type { Attachment, Volume } from '../state/types.js';
import { invalidVolume } from './policy.js';
import { touch } from './volumes.js';

/**
 * Cinder attachments (the 3.27+ flow: reserved → attaching → attached) and the legacy os-attach
 * family, which share one record type. A volume's status follows its attachments: `in-use` while
 * any is attached, `available` when none is left.
 */

export const attachmentsOf = (sim: Sim, volumeId: string): Attachment[] =>
  Object.values(sim.store.state.attachments).filter((a) => a.volume_id === volumeId);

function connectionInfo(sim: Sim, volume: Volume, mode: string): Record<string, unknown> {
  return {
    driver_volume_type: 'local',
    data: { device_path: sim.files.volumePath(volume.id), volume_id: volume.id, access_mode: mode },
  };
}

function checkAttachable(volume: Volume): void {
  const ok =
    volume.status === 'available' ||
    volume.status === 'downloading' ||
    (volume.multiattach && (volume.status === 'in-use' || volume.status === 'reserved'));
  if (!ok) {
    throw invalidVolume(
      `Volume ${volume.id} status must be available or downloading to reserve, but the current status is ${volume.status}.`,
    );
  }
}

/** Recomputes a volume's attach status from its attachments (after any attach/detach step). */
export function settleVolume(sim: Sim, volume: Volume): void {
  const atts = attachmentsOf(sim, volume.id);
  if (atts.some((a) => a.status === 'attached')) {
    volume.status = 'in-use';
    volume.attach_status = 'attached';
  } else if (atts.some((a) => a.status === 'attaching')) {
    volume.status = 'attaching';
    volume.attach_status = 'attaching';
  } else if (atts.some((a) => a.status === 'reserved')) {
    volume.status = 'reserved';
    volume.attach_status = 'reserved';
  } else {
    if (['in-use', 'attaching', 'reserved', 'detaching'].includes(volume.status)) volume.status = 'available';
    volume.attach_status = 'detached';
  }
  touch(volume);
}

export function createAttachment(
  sim: Sim,
  projectId: string,
  volume: Volume,
  input: { instanceUuid: string | null; connector: Record<string, unknown> | null; mode: 'rw' | 'ro' },
): Attachment {
  checkAttachable(volume);
  const a: Attachment = {
    id: uuid(),
    volume_id: volume.id,
    project_id: projectId,
    instance_uuid: input.instanceUuid,
    status: 'reserved',
    attach_mode: input.mode,
    connector: null,
    connection_info: {},
    mountpoint: null,
    attached_host: null,
    attach_time: null,
    detach_time: null,
  };
  sim.store.state.attachments[a.id] = a;
  if (input.connector) updateAttachment(sim, a, volume, input.connector);
  else settleVolume(sim, volume);
  return a;
}

/** PUT /attachments/{id} with a connector: the attachment gets its connection info. */
export function updateAttachment(
  sim: Sim,
  a: Attachment,
  volume: Volume,
  connector: Record<string, unknown>,
): void {
  if (a.status === 'attached') throw invalidVolume(`Attachment ${a.id} is already attached.`);
  a.connector = connector;
  a.status = 'attaching';
  a.attached_host = typeof connector.host === 'string' ? connector.host : null;
  if (typeof connector.mountpoint === 'string') a.mountpoint = connector.mountpoint;
  a.connection_info = connectionInfo(sim, volume, a.attach_mode);
  settleVolume(sim, volume);
}

/** os-complete (3.44): the attachment is attached, the volume in-use. */
export function completeAttachment(sim: Sim, a: Attachment, volume: Volume, mountpoint?: string): void {
  a.status = 'attached';
  a.attach_time = nowIso();
  if (mountpoint) a.mountpoint = mountpoint;
  if (!a.connection_info || Object.keys(a.connection_info).length === 0) {
    a.connection_info = connectionInfo(sim, volume, a.attach_mode);
  }
  settleVolume(sim, volume);
}

/** Removes an attachment; the volume goes back to available when it was the last one. */
export function removeAttachment(sim: Sim, a: Attachment): void {
  delete sim.store.state.attachments[a.id];
  const volume = sim.store.state.volumes[a.volume_id];
  if (volume) settleVolume(sim, volume);
}

/**
 * OSSA-2023-003: an attachment that a Nova instance uses may only be removed through Nova, or by
 * a caller that also sends a service token (`X-Service-Token` with role `service`).
 */
export function checkNovaUsage(sim: Sim, a: Attachment, serviceToken: boolean): void {
  if (serviceToken || !a.instance_uuid) return;
  const server = sim.store.state.servers[a.instance_uuid];
  if (server?.bdms.some((b) => b.attachment_id === a.id || b.volume_id === a.volume_id)) {
    throw conflict(`Detach volume from instance ${a.instance_uuid} using the Compute API`);
  }
}

/** Legacy os-attach: straight to attached (reusing a reservation of the same instance). */
export function legacyAttach(
  sim: Sim,
  projectId: string,
  volume: Volume,
  input: { instanceUuid: string | null; hostName: string | null; mountpoint: string; mode: 'rw' | 'ro' },
): Attachment {
  if (volume.status === 'in-use' && !volume.multiattach) {
    throw invalidVolume(`Volume ${volume.id} is already attached.`);
  }
  if (!['available', 'attaching', 'reserved', 'in-use'].includes(volume.status)) {
    throw invalidVolume(
      `Volume ${volume.id} status must be available or attaching, but current status is: ${volume.status}.`,
    );
  }
  const existing = attachmentsOf(sim, volume.id).find(
    (a) => a.status !== 'attached' && a.instance_uuid === input.instanceUuid,
  );
  const a: Attachment = existing ?? {
    id: uuid(),
    volume_id: volume.id,
    project_id: projectId,
    instance_uuid: input.instanceUuid,
    status: 'attaching',
    attach_mode: input.mode,
    connector: null,
    connection_info: {},
    mountpoint: null,
    attached_host: input.hostName,
    attach_time: null,
    detach_time: null,
  };
  sim.store.state.attachments[a.id] = a;
  completeAttachment(sim, a, volume, input.mountpoint);
  return a;
}
