import type { Caller } from '../../auth/caller.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';
import type { Server } from '../../openstack/nova.js';
import { conflict, notFound } from '../errors.js';

/** The instance statuses an instance snapshot or backup accepts (seed §2). */
export const ACCEPTED_INSTANCE_STATUSES = ['ACTIVE', 'SHUTOFF', 'SUSPENDED', 'PAUSED'] as const;

/** Volume statuses Cinder snapshots (forced) accept. */
const CAPTURABLE_VOLUME_STATUSES = new Set(['available', 'in-use']);

/** One volume of an instance, as an instance snapshot or backup records it. */
export interface InstanceVolume {
  volumeId: string;
  device: string | null;
  /** 0 for the boot volume (its device is the root device), else null. */
  bootIndex: number | null;
  sizeGb: number;
  availabilityZone: string | null;
}

/** What an instance snapshot or backup captures of an instance, read just before capturing it. */
export interface InspectedInstance {
  id: string;
  /** The root disk is a local disk made from this Glance image (not a volume). */
  rootImageId: string | null;
  volumes: InstanceVolume[];
  /** The instance's description, stored with the snapshot or backup (SPEC §5.5). */
  description: Record<string, unknown>;
}

/**
 * Reads an instance for a capture: it must be the caller's (as Nova answers the caller: another
 * project's is 404) and in an accepted status (409 naming it), and so must each of its volumes be
 * capturable. The root device name (admin view) tells which attachment is the boot volume.
 */
export async function inspectInstance(
  cloud: OpenStackCloud,
  caller: Caller,
  instanceId: string,
  what: 'an instance snapshot' | 'an instance backup',
): Promise<InspectedInstance> {
  const own = await cloud.nova.getServer(cloud.novaAuthFor(caller), instanceId);
  if (!own) throw notFound(`Instance ${instanceId} could not be found.`);
  assertAccepted(own, what);
  const { server, attachments } = await cloud.asService(async ({ nova }) => ({
    server: await cloud.nova.getServer(nova, instanceId),
    attachments: await cloud.nova.volumeAttachments(nova, instanceId),
  }));
  if (!server) throw notFound(`Instance ${instanceId} could not be found.`);
  assertAccepted(server, what);
  const rootDevice = server['OS-EXT-SRV-ATTR:root_device_name'] ?? null;
  const rootImageId = server.image === '' ? null : server.image.id;

  const cinder = cloud.cinderAuthFor(caller);
  const volumes = await Promise.all(
    attachments.map(async (attachment): Promise<InstanceVolume> => {
      const volume = await cloud.cinder.getVolume(cinder, attachment.volumeId);
      if (!volume)
        throw notFound(`Volume ${attachment.volumeId} of instance ${instanceId} could not be found.`);
      if (!CAPTURABLE_VOLUME_STATUSES.has(volume.status)) {
        throw conflict(
          `Volume ${volume.id} of instance ${instanceId} is ${volume.status}: ${what} needs every volume available or in-use. Try again when it has settled.`,
        );
      }
      const device = attachment.device ?? null;
      return {
        volumeId: volume.id,
        device,
        bootIndex: !rootImageId && device !== null && device === rootDevice ? 0 : null,
        sizeGb: volume.size,
        availabilityZone: volume.availability_zone ?? null,
      };
    }),
  );
  volumes.sort(
    (a, b) => (a.bootIndex ?? 1) - (b.bootIndex ?? 1) || (a.device ?? '').localeCompare(b.device ?? ''),
  );
  return {
    id: instanceId,
    rootImageId,
    volumes,
    description: describe(server, rootDevice, rootImageId, volumes),
  };
}

function assertAccepted(server: Server, what: string) {
  if (!(ACCEPTED_INSTANCE_STATUSES as readonly string[]).includes(server.status)) {
    throw conflict(
      `Instance ${server.id} is ${server.status}: ${what} needs it ${ACCEPTED_INSTANCE_STATUSES.join(', ').replace(/, (\w+)$/, ' or $1')}.`,
    );
  }
}

/** Name, flavor, image and block device mapping (device names, boot index), as Nova showed them. */
function describe(
  server: Server,
  rootDevice: string | null,
  rootImageId: string | null,
  volumes: InstanceVolume[],
): Record<string, unknown> {
  const { links: _links, ...flavor } = server.flavor as Record<string, unknown>;
  return {
    id: server.id,
    name: server.name,
    description: server.description ?? null,
    status: server.status,
    flavor,
    image: rootImageId ? { id: rootImageId } : null,
    root_device_name: rootDevice,
    availability_zone: server['OS-EXT-AZ:availability_zone'] ?? null,
    metadata: server.metadata ?? {},
    block_device_mapping: [
      ...(rootImageId
        ? [
            {
              source_type: 'image',
              destination_type: 'local',
              image_id: rootImageId,
              device_name: rootDevice,
              boot_index: 0,
            },
          ]
        : []),
      ...volumes.map((v) => ({
        source_type: 'volume',
        destination_type: 'volume',
        volume_id: v.volumeId,
        device_name: v.device,
        boot_index: v.bootIndex,
        volume_size: v.sizeGb,
      })),
    ],
  };
}
