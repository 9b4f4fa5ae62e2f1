import { createHash } from 'node:crypto';
import type { RequestContext } from '../common/http.js';
import { atLeast } from '../common/microversion.js';
import { micro, seconds } from '../common/time.js';
import type { Sim } from '../sim/context.js';
import type { Bdm, Server } from '../state/types.js';
import { FLAVORS } from './flavors.js';

/** The simulator's one tenant network, as `addresses` names it. */
export const NETWORK_NAME = 'private';

/** vm_state (+ task_state) → API status, as nova/api/openstack/common.py `_STATE_MAP`. */
export function serverStatus(s: Server): string {
  switch (s.vm_state) {
    case 'active':
      if (s.task_state === 'rebooting') return 'REBOOT';
      if (s.task_state === 'rebooting_hard') return 'HARD_REBOOT';
      return 'ACTIVE';
    case 'building':
      return 'BUILD';
    case 'stopped':
      return 'SHUTOFF';
    case 'paused':
      return 'PAUSED';
    case 'suspended':
      return 'SUSPENDED';
    case 'error':
      return 'ERROR';
    case 'deleted':
      return 'DELETED';
    default:
      return 'UNKNOWN';
  }
}

function links(sim: Sim, collection: string, id: string) {
  return [
    { href: `${sim.urls.nova}/v2.1/${collection}/${id}`, rel: 'self' },
    { href: `${sim.urls.nova}/${collection}/${id}`, rel: 'bookmark' },
  ];
}

export function serverSummary(sim: Sim, s: Server) {
  return { id: s.id, links: links(sim, 'servers', s.id), name: s.name };
}

export const volumeBdms = (s: Server): Bdm[] =>
  s.bdms.filter((b) => b.destination_type === 'volume' && b.volume_id);

/**
 * nova/api/openstack/compute/views/servers.py, by microversion and admin-ness. `show`: the single
 * server views (GET/PUT /servers/{id}), which alone carry `server_groups` (2.71).
 */
export function serverDetail(
  sim: Sim,
  ctx: RequestContext,
  s: Server,
  show = false,
): Record<string, unknown> {
  const mv = ctx.mv;
  const isAdmin = ctx.auth!.isAdmin;
  const status = serverStatus(s);
  const flavor = FLAVORS.find((f) => f.id === s.flavor_id)!;
  const glanceImage = s.image_id ? sim.store.state.images[s.image_id] : undefined;
  let image: unknown = '';
  if (s.image_id) {
    const img: Record<string, unknown> = {
      id: s.image_id,
      links: [{ href: `${sim.urls.nova}/images/${s.image_id}`, rel: 'bookmark' }],
    };
    if (atLeast(mv, '2.98')) img.properties = { ...(glanceImage?.properties ?? {}) };
    image = img;
  }
  const out: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: s.metadata,
    hostId: createHash('sha224').update(`${s.project_id}${s.host}`).digest('hex'),
    image,
    flavor: atLeast(mv, '2.47')
      ? {
          vcpus: flavor.vcpus,
          ram: flavor.ram,
          disk: flavor.disk,
          ephemeral: 0,
          swap: 0,
          original_name: flavor.name,
          extra_specs: {},
        }
      : { id: flavor.id, links: [{ href: `${sim.urls.nova}/flavors/${flavor.id}`, rel: 'bookmark' }] },
    created: seconds(s.created_at),
    updated: seconds(s.updated_at),
    addresses:
      s.networks === 'none' || !s.fixed_ip
        ? {}
        : {
            [NETWORK_NAME]: [
              { addr: s.fixed_ip, 'OS-EXT-IPS-MAC:mac_addr': s.mac, 'OS-EXT-IPS:type': 'fixed', version: 4 },
            ],
          },
    accessIPv4: '',
    accessIPv6: '',
    links: links(sim, 'servers', s.id),
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': s.availability_zone,
    config_drive: '',
    key_name: s.key_name,
    'OS-EXT-STS:task_state': s.task_state,
    'OS-EXT-STS:vm_state': s.vm_state,
    'OS-EXT-STS:power_state': s.power_state,
    'OS-SRV-USG:launched_at': micro(s.launched_at),
    'OS-SRV-USG:terminated_at': null,
    'os-extended-volumes:volumes_attached': volumeBdms(s).map((b) =>
      atLeast(mv, '2.3')
        ? { id: b.volume_id, delete_on_termination: b.delete_on_termination }
        : { id: b.volume_id },
    ),
    security_groups: [{ name: 'default' }],
  };
  if (['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING'].includes(status))
    out.progress = 0;
  if (isAdmin) {
    out['OS-EXT-SRV-ATTR:host'] = s.host;
    out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.host;
    out['OS-EXT-SRV-ATTR:instance_name'] = s.instance_name;
    if (atLeast(mv, '2.3')) {
      out['OS-EXT-SRV-ATTR:reservation_id'] = s.reservation_id;
      out['OS-EXT-SRV-ATTR:launch_index'] = s.launch_index;
      out['OS-EXT-SRV-ATTR:kernel_id'] = '';
      out['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      out['OS-EXT-SRV-ATTR:hostname'] = s.name;
      out['OS-EXT-SRV-ATTR:root_device_name'] = s.root_device_name;
      out['OS-EXT-SRV-ATTR:user_data'] = null;
    }
  } else if (atLeast(mv, '2.90')) {
    out['OS-EXT-SRV-ATTR:hostname'] = s.name;
  }
  if (atLeast(mv, '2.9')) out.locked = s.locked;
  if (isAdmin && atLeast(mv, '2.16')) out.host_status = 'UP';
  if (atLeast(mv, '2.19')) out.description = s.description;
  if (atLeast(mv, '2.26')) out.tags = s.tags;
  if (atLeast(mv, '2.63')) out.trusted_image_certificates = null;
  if (show && atLeast(mv, '2.71')) out.server_groups = [];
  if (atLeast(mv, '2.73')) out.locked_reason = s.locked_reason;
  if (atLeast(mv, '2.96')) out.pinned_availability_zone = s.pinned_availability_zone;
  if (atLeast(mv, '2.100')) out.scheduler_hints = s.scheduler_hints;
  if (s.vm_state === 'error' && s.fault) {
    out.fault = {
      code: s.fault.code,
      created: seconds(s.fault.created),
      message: s.fault.message,
      ...(isAdmin ? { details: s.fault.details } : {}),
    };
  }
  return out;
}

/** os-volume_attachments entries: `id` until 2.88, `attachment_id`/`bdm_uuid` from 2.89. */
export function volumeAttachmentView(ctx: RequestContext, s: Server, b: Bdm): Record<string, unknown> {
  const mv = ctx.mv;
  const out: Record<string, unknown> = { device: b.device_name, serverId: s.id, volumeId: b.volume_id };
  if (!atLeast(mv, '2.89')) out.id = b.volume_id;
  if (atLeast(mv, '2.70')) out.tag = b.tag;
  if (atLeast(mv, '2.79')) out.delete_on_termination = b.delete_on_termination;
  if (atLeast(mv, '2.89')) {
    out.attachment_id = b.attachment_id;
    out.bdm_uuid = b.uuid;
  }
  return out;
}
