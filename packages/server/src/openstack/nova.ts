import { z } from 'zod';
import { headerValue, type OpenStackHttp } from './http.js';

/** 2.73 gives `locked_reason`; 2.45 makes createImage answer `{"image_id"}` instead of a Location header. */
const MICROVERSION = 'compute 2.73';

export const serverSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  tenant_id: z.string().optional(),
  locked: z.boolean().optional(),
  locked_reason: z.string().nullable().optional(),
  /** `""` for a server booted from a volume, else the image reference. */
  image: z.union([z.literal(''), z.looseObject({ id: z.string() })]),
  /** From 2.47 the flavor itself (vcpus, ram, disk, original_name, …), before it `{id, links}`. */
  flavor: z.looseObject({}),
  description: z.string().nullable().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  'OS-EXT-AZ:availability_zone': z.string().nullable().optional(),
  'OS-EXT-STS:task_state': z.string().nullable().optional(),
  'OS-EXT-STS:vm_state': z.string().optional(),
  'OS-EXT-SRV-ATTR:root_device_name': z.string().nullable().optional(),
  'os-extended-volumes:volumes_attached': z.array(z.looseObject({ id: z.string() })).default([]),
});
export type Server = z.infer<typeof serverSchema>;

export const volumeAttachmentSchema = z.looseObject({
  volumeId: z.string(),
  device: z.string().nullable().optional(),
  serverId: z.string().optional(),
});
export type VolumeAttachment = z.infer<typeof volumeAttachmentSchema>;

/** A token and the compute endpoint (`…/v2.1`). */
export interface ApiAuth {
  token: string;
  endpoint: string;
}

/** The Compute v2.1 calls the service makes. */
export class NovaClient {
  constructor(private readonly http: OpenStackHttp) {}

  async getServer(auth: ApiAuth, id: string): Promise<Server | null> {
    const response = await this.http.send({
      method: 'GET',
      url: `${auth.endpoint}/servers/${id}`,
      headers: h(auth),
      accept: [404],
    });
    if (response.status === 404) return null;
    return z.object({ server: serverSchema }).parse(response.body).server;
  }

  async volumeAttachments(auth: ApiAuth, serverId: string): Promise<VolumeAttachment[]> {
    const response = await this.http.send({
      method: 'GET',
      url: `${auth.endpoint}/servers/${serverId}/os-volume_attachments`,
      headers: h(auth),
    });
    return z.object({ volumeAttachments: z.array(volumeAttachmentSchema) }).parse(response.body)
      .volumeAttachments;
  }

  /** Locks a server so that its owner cannot start it (admin may still act on it). */
  async lock(auth: ApiAuth, serverId: string, reason: string): Promise<void> {
    await this.action(auth, serverId, { lock: { locked_reason: reason } });
  }

  async unlock(auth: ApiAuth, serverId: string): Promise<void> {
    await this.action(auth, serverId, { unlock: null });
  }

  /** createImage: a Glance image of the server (plus Cinder snapshots for its volumes when volume-backed). */
  async createImage(
    auth: ApiAuth,
    serverId: string,
    name: string,
    metadata: Record<string, string> = {},
  ): Promise<string> {
    const response = await this.http.send({
      method: 'POST',
      url: `${auth.endpoint}/servers/${serverId}/action`,
      headers: h(auth),
      json: { createImage: { name, metadata } },
    });
    const body = response.body as { image_id?: string } | undefined;
    const id = body?.image_id ?? headerValue(response.headers.location)?.split('/').pop();
    if (!id) throw new Error(`nova answered createImage of ${serverId} without an image id`);
    return id;
  }

  private async action(auth: ApiAuth, serverId: string, body: Record<string, unknown>) {
    await this.http.send({
      method: 'POST',
      url: `${auth.endpoint}/servers/${serverId}/action`,
      headers: h(auth),
      json: body,
      idempotent: true,
    });
  }
}

function h(auth: ApiAuth): Record<string, string> {
  return {
    'x-auth-token': auth.token,
    'openstack-api-version': MICROVERSION,
    'x-openstack-nova-api-version': MICROVERSION.split(' ')[1] ?? '',
  };
}
