import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { type OpenStackHttp, OpenStackHttpError, OpenStackUnavailableError } from './http.js';
import type { ApiAuth } from './nova.js';

export const imageSchema = z.looseObject({
  id: z.string(),
  name: z.string().nullable().optional(),
  status: z.string(),
  size: z.number().nullable().optional(),
  disk_format: z.string().nullable().optional(),
  container_format: z.string().nullable().optional(),
  owner: z.string().nullable().optional(),
  block_device_mapping: z.string().optional(),
});
export type Image = z.infer<typeof imageSchema>;

/** The Image v2 calls the service makes. */
export class GlanceClient {
  private readonly downloads = new Agent({ keepAliveTimeout: 10_000 });

  constructor(
    private readonly http: OpenStackHttp,
    private readonly timeoutMs: number,
  ) {}

  async getImage(auth: ApiAuth, id: string): Promise<Image | null> {
    const response = await this.http.send({
      method: 'GET',
      url: `${auth.endpoint}/v2/images/${id}`,
      headers: { 'x-auth-token': auth.token },
      accept: [404],
    });
    if (response.status === 404) return null;
    return imageSchema.parse(response.body);
  }

  /** Images visible to the auth's project with exactly this name (no paging: names here are unique). */
  async listImages(auth: ApiAuth, filters: { name: string }): Promise<Image[]> {
    const query = new URLSearchParams({ name: filters.name, limit: '100' });
    const response = await this.http.send({
      method: 'GET',
      url: `${auth.endpoint}/v2/images?${query}`,
      headers: { 'x-auth-token': auth.token },
    });
    return z.object({ images: z.array(imageSchema) }).parse(response.body).images;
  }

  async deleteImage(auth: ApiAuth, id: string): Promise<void> {
    await this.http.send({
      method: 'DELETE',
      url: `${auth.endpoint}/v2/images/${id}`,
      headers: { 'x-auth-token': auth.token },
      accept: [404],
    });
  }

  /** The image's data as a stream (not buffered: images are large). */
  async download(auth: ApiAuth, id: string): Promise<{ body: Readable; size: number | undefined }> {
    const url = `${auth.endpoint}/v2/images/${id}/file`;
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(url, {
        method: 'GET',
        headers: { 'x-auth-token': auth.token },
        dispatcher: this.downloads,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (error) {
      throw new OpenStackUnavailableError('glance', 'GET', url, false, error);
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      throw new OpenStackHttpError('glance', response.statusCode, 'GET', url, text, undefined);
    }
    const length = response.headers['content-length'];
    return { body: response.body, size: typeof length === 'string' ? Number(length) : undefined };
  }

  close() {
    return this.downloads.close();
  }
}
