import { createHash } from 'node:crypto';
import type { OpenStackTarget } from './openstack-target.js';
import { type Stack, type UserName, waitFor } from './stack.js';

const GiB = 1024 ** 3;

/** Direct calls to Nova and Glance (the simulator's or a real cloud's), as a user would make them. */
export class SimNova {
  private readonly urls: OpenStackTarget['urls'];
  private readonly token: (user: UserName) => Promise<string>;

  constructor(private readonly stack: Pick<Stack, 'openstack' | 'token' | 'cinder'>) {
    this.urls = stack.openstack.urls;
    this.token = stack.token;
  }

  async request(user: UserName, method: string, path: string, body?: unknown, microversion = '2.73') {
    const response = await fetch(`${this.urls.nova}${path}`, {
      method,
      headers: {
        'x-auth-token': await this.token(user),
        'content-type': 'application/json',
        'openstack-api-version': `compute ${microversion}`,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
  }

  async glance(user: UserName, method: string, path: string) {
    const response = await fetch(`${this.urls.glance}${path}`, {
      method,
      headers: { 'x-auth-token': await this.token(user), accept: 'application/json' },
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {}
    return { status: response.status, body: body as any };
  }

  async cirrosImageId(): Promise<string> {
    const { body } = await this.glance('demo', 'GET', '/v2/images?name=cirros-0.6.2-x86_64-disk');
    return body.images[0].id;
  }

  async imageData(user: UserName, imageId: string): Promise<Buffer> {
    const response = await fetch(`${this.urls.glance}/v2/images/${imageId}/file`, {
      headers: { 'x-auth-token': await this.token(user) },
    });
    if (response.status !== 200) throw new Error(`image ${imageId} data: ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  }

  /**
   * A server booted from `bootVolumeId` (or from `imageId`, image-backed), with `volumes` attached
   * afterwards; resolves when it is ACTIVE and every volume is in-use.
   */
  async createServer(
    user: UserName,
    options: { name?: string; bootVolumeId?: string; imageId?: string; volumes?: string[] },
  ): Promise<string> {
    const server: Record<string, unknown> = { name: options.name ?? 'vm', flavorRef: '1', networks: 'none' };
    if (options.bootVolumeId) {
      // Nova boots only from a bootable volume; an empty one is not, until its owner says so.
      const bootable = await this.stack.cinder.request(
        user,
        'POST',
        `/volumes/${options.bootVolumeId}/action`,
        {
          'os-set_bootable': { bootable: true },
        },
      );
      if (bootable.status !== 200)
        throw new Error(`os-set_bootable: ${bootable.status} ${JSON.stringify(bootable.body)}`);
      server.block_device_mapping_v2 = [
        {
          boot_index: 0,
          uuid: options.bootVolumeId,
          source_type: 'volume',
          destination_type: 'volume',
          delete_on_termination: false,
        },
      ];
    } else {
      server.imageRef = options.imageId;
    }
    const created = await this.request(user, 'POST', '/servers', { server });
    if (created.status !== 202) throw new Error(`create server: ${created.status} ${created.text}`);
    const id: string = created.body.server.id;
    await this.waitStatus(user, id, 'ACTIVE');
    for (const volumeId of options.volumes ?? []) {
      const attached = await this.request(user, 'POST', `/servers/${id}/os-volume_attachments`, {
        volumeAttachment: { volumeId },
      });
      if (attached.status !== 200) throw new Error(`attach ${volumeId}: ${attached.status} ${attached.text}`);
      await this.stack.cinder.waitVolume(user, volumeId, 'in-use');
    }
    return id;
  }

  async server(user: UserName, id: string) {
    const { status, body, text } = await this.request(user, 'GET', `/servers/${id}`);
    if (status !== 200) throw new Error(`server ${id}: ${status} ${text}`);
    return body.server;
  }

  async action(user: UserName, id: string, action: Record<string, unknown>) {
    return this.request(user, 'POST', `/servers/${id}/action`, action);
  }

  async waitStatus(user: UserName, id: string, status: string, timeoutMs = 60_000) {
    return waitFor(
      `server ${id} ${status}`,
      async () => {
        const server = await this.server(user, id);
        if (server.status === 'ERROR' && status !== 'ERROR') throw new Error(`server ${id} went to ERROR`);
        return server.status === status && server['OS-EXT-STS:task_state'] === null ? server : undefined;
      },
      timeoutMs,
    );
  }

  /** Puts a server into one of the four accepted statuses (from ACTIVE). */
  async bringTo(user: UserName, id: string, status: 'ACTIVE' | 'SHUTOFF' | 'PAUSED' | 'SUSPENDED') {
    const actions = { ACTIVE: null, SHUTOFF: 'os-stop', PAUSED: 'pause', SUSPENDED: 'suspend' } as const;
    const action = actions[status];
    if (!action) return;
    const { status: code, text } = await this.action(user, id, { [action]: null });
    if (code !== 202) throw new Error(`${action} ${id}: ${code} ${text}`);
    await this.waitStatus(user, id, status);
  }
}

/** sha256 of a volume of `sizeGb` GiB that holds `data` at offset 0 and zeros after it. */
export function sha256OfDataOnVolume(data: Buffer, sizeGb: number): string {
  const hash = createHash('sha256').update(data);
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  for (let left = sizeGb * GiB - data.length; left > 0; left -= zeros.length)
    hash.update(zeros.subarray(0, Math.min(left, zeros.length)));
  return hash.digest('hex');
}
