import { z } from 'zod';
import type { OpenStackHttp } from './http.js';

// Only the fields the service reads are declared; everything else passes through untouched.
export const volumeSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  size: z.number(),
  name: z.string().nullable().optional(),
  availability_zone: z.string().nullable().optional(),
  bootable: z.string().optional(),
  volume_type: z.string().nullable().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  attachments: z
    .array(
      z.looseObject({
        server_id: z.string().optional(),
        attachment_id: z.string().optional(),
        device: z.string().nullable().optional(),
      }),
    )
    .default([]),
  'os-vol-tenant-attr:tenant_id': z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().nullable().optional(),
});
export type Volume = z.infer<typeof volumeSchema>;

export const snapshotSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  volume_id: z.string(),
  size: z.number(),
  name: z.string().nullable().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().nullable().optional(),
  'os-extended-snapshot-attributes:project_id': z.string().optional(),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

/** Who calls Cinder: a token and the endpoint of the token's project (`…/v3/<project id>`). */
export interface CinderAuth {
  token: string;
  endpoint: string;
}

export interface CreateVolumeRequest {
  size: number;
  name?: string | null;
  description?: string | null;
  volume_type?: string | null;
  availability_zone?: string | null;
  metadata?: Record<string, string>;
}

/** The Block Storage v3 calls the service makes. */
export class CinderClient {
  constructor(private readonly http: OpenStackHttp) {}

  async getVolume(auth: CinderAuth, id: string): Promise<Volume | null> {
    const response = await this.http.send({
      method: 'GET',
      url: `${auth.endpoint}/volumes/${id}`,
      headers: h(auth),
      accept: [404],
    });
    if (response.status === 404) return null;
    return z.object({ volume: volumeSchema }).parse(response.body).volume;
  }

  async createVolume(auth: CinderAuth, volume: CreateVolumeRequest): Promise<Volume> {
    const response = await this.http.send({
      method: 'POST',
      url: `${auth.endpoint}/volumes`,
      headers: h(auth),
      json: { volume },
    });
    return z.object({ volume: volumeSchema }).parse(response.body).volume;
  }

  async deleteVolume(auth: CinderAuth, id: string): Promise<void> {
    await this.http.send({
      method: 'DELETE',
      url: `${auth.endpoint}/volumes/${id}`,
      headers: h(auth),
      accept: [404],
    });
  }

  /** os-reset_status (admin): how the service marks a volume it works on (restoring-backup, …). */
  async resetVolumeStatus(
    auth: CinderAuth,
    id: string,
    status: string,
    attachStatus?: string,
  ): Promise<void> {
    await this.volumeAction(auth, id, {
      'os-reset_status': { status, ...(attachStatus ? { attach_status: attachStatus } : {}) },
    });
  }

  async volumeAction(auth: CinderAuth, id: string, action: Record<string, unknown>, microversion?: string) {
    await this.http.send({
      method: 'POST',
      url: `${auth.endpoint}/volumes/${id}/action`,
      headers: h(auth, microversion),
      json: action,
      idempotent: true,
    });
  }

  async createSnapshot(
    auth: CinderAuth,
    snapshot: {
      volume_id: string;
      name: string;
      description?: string;
      force?: boolean;
      metadata?: Record<string, string>;
    },
  ): Promise<Snapshot> {
    const response = await this.http.send({
      method: 'POST',
      url: `${auth.endpoint}/snapshots`,
      headers: h(auth),
      json: { snapshot },
    });
    return z.object({ snapshot: snapshotSchema }).parse(response.body).snapshot;
  }

  async getSnapshot(auth: CinderAuth, id: string): Promise<Snapshot | null> {
    const response = await this.http.send({
      method: 'GET',
      url: `${auth.endpoint}/snapshots/${id}`,
      headers: h(auth),
      accept: [404],
    });
    if (response.status === 404) return null;
    return z.object({ snapshot: snapshotSchema }).parse(response.body).snapshot;
  }

  /** Snapshots of the auth's project (all projects with allTenants, admin) filtered by name / volume. */
  async listSnapshots(
    auth: CinderAuth,
    filters: { name?: string; volumeId?: string; allTenants?: boolean } = {},
  ): Promise<Snapshot[]> {
    const query = new URLSearchParams();
    if (filters.name) query.set('name', filters.name);
    if (filters.volumeId) query.set('volume_id', filters.volumeId);
    if (filters.allTenants) query.set('all_tenants', '1');
    const response = await this.http.send({
      method: 'GET',
      url: `${auth.endpoint}/snapshots/detail?${query}`,
      headers: h(auth),
    });
    return z.object({ snapshots: z.array(snapshotSchema) }).parse(response.body).snapshots;
  }

  async deleteSnapshot(auth: CinderAuth, id: string): Promise<void> {
    await this.http.send({
      method: 'DELETE',
      url: `${auth.endpoint}/snapshots/${id}`,
      headers: h(auth),
      accept: [404],
    });
  }

  async resetSnapshotStatus(auth: CinderAuth, id: string, status: string): Promise<void> {
    await this.http.send({
      method: 'POST',
      url: `${auth.endpoint}/snapshots/${id}/action`,
      headers: h(auth),
      json: { 'os-reset_status': { status } },
      idempotent: true,
    });
  }
}

function h(auth: CinderAuth, microversion?: string): Record<string, string> {
  return {
    'x-auth-token': auth.token,
    ...(microversion ? { 'openstack-api-version': `volume ${microversion}` } : {}),
  };
}
