import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AuthContext } from '../common/auth.js';
import { ApiError } from '../common/errors.js';
import { uuid } from '../common/ids.js';
import { nowIso, seconds } from '../common/time.js';
import type { Sim } from '../sim/context.js';
import type { Image } from '../state/types.js';

/** The one image present at start: deterministic bytes, so its checksums never change. */
export const CIRROS_NAME = 'cirros-0.6.2-x86_64-disk';
export const CIRROS_SIZE = 1024 * 1024;

export function cirrosBytes(): Buffer {
  const out = Buffer.alloc(CIRROS_SIZE);
  for (let i = 0; i * 32 < CIRROS_SIZE; i++) {
    createHash('sha256')
      .update(`cirros-block-${i}`)
      .digest()
      .copy(out, i * 32);
  }
  return out;
}

export const imagePath = (sim: Sim, id: string) => join(sim.imagesDir, id);

/** Glance's visibility rules: public and community images, the project's own, everything for admin. */
export function findVisibleImage(sim: Sim, auth: AuthContext, id: string): Image | undefined {
  const img = sim.store.state.images[id];
  if (!img) return undefined;
  if (auth.isAdmin || img.owner === auth.projectId) return img;
  return img.visibility === 'public' || img.visibility === 'community' ? img : undefined;
}

export function imageView(img: Image): Record<string, unknown> {
  return {
    ...img.properties,
    id: img.id,
    name: img.name,
    status: img.status,
    visibility: img.visibility,
    protected: img.protected,
    os_hidden: img.os_hidden,
    checksum: img.checksum,
    os_hash_algo: img.os_hash_algo,
    os_hash_value: img.os_hash_value,
    owner: img.owner,
    size: img.size,
    virtual_size: img.virtual_size,
    min_disk: img.min_disk,
    min_ram: img.min_ram,
    container_format: img.container_format,
    disk_format: img.disk_format,
    created_at: seconds(img.created_at),
    updated_at: seconds(img.updated_at),
    tags: img.tags,
    self: `/v2/images/${img.id}`,
    file: `/v2/images/${img.id}/file`,
    schema: '/v2/schemas/image',
  };
}

export function newImage(fields: Partial<Image> & { owner: string }): Image {
  const now = nowIso();
  return {
    id: uuid(),
    name: null,
    status: 'queued',
    visibility: 'private',
    protected: false,
    os_hidden: false,
    container_format: null,
    disk_format: null,
    min_disk: 0,
    min_ram: 0,
    size: null,
    virtual_size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    tags: [],
    properties: {},
    created_at: now,
    updated_at: now,
    ...fields,
  };
}

/**
 * Stores image data (streamed, bounded memory) and makes the image active with Glance's
 * checksums (md5 `checksum`, sha512 multihash). queued → saving → active; killed on failure.
 */
export async function storeImageData(sim: Sim, img: Image, data: Readable): Promise<void> {
  img.status = 'saving';
  img.updated_at = nowIso();
  const final = imagePath(sim, img.id);
  const tmp = `${final}.tmp-${randomBytes(6).toString('hex')}`;
  await mkdir(sim.imagesDir, { recursive: true });
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  let size = 0;
  const fh = await open(tmp, 'w');
  try {
    for await (const chunk of data as AsyncIterable<Buffer>) {
      md5.update(chunk);
      sha512.update(chunk);
      await fh.write(chunk, 0, chunk.length, size);
      size += chunk.length;
    }
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    img.status = 'killed';
    throw err;
  }
  await fh.close();
  await rename(tmp, final);
  Object.assign(img, {
    status: 'active',
    size,
    checksum: md5.digest('hex'),
    os_hash_algo: 'sha512',
    os_hash_value: sha512.digest('hex'),
    updated_at: nowIso(),
  } satisfies Partial<Image>);
}

export async function storeImageFile(sim: Sim, img: Image, path: string): Promise<void> {
  // Opened first, so that a missing file is this call's error, not an unhandled stream 'error' event
  // emitted while storeImageData awaits something else.
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    img.status = 'killed';
    img.updated_at = nowIso();
    throw err;
  }
  return storeImageData(sim, img, fh.createReadStream({ highWaterMark: 1024 * 1024 }));
}

export async function deleteImage(sim: Sim, img: Image): Promise<void> {
  delete sim.store.state.images[img.id];
  await rm(imagePath(sim, img.id), { force: true });
}

/** The public image every fresh state directory starts with. */
export async function seedImage(sim: Sim, adminProjectId: string): Promise<void> {
  const img = newImage({
    owner: adminProjectId,
    name: CIRROS_NAME,
    visibility: 'public',
    container_format: 'bare',
    disk_format: 'raw',
  });
  sim.store.state.images[img.id] = img;
  await storeImageData(sim, img, Readable.from([cirrosBytes()]));
  img.virtual_size = img.size;
}

export const imageNotFound = (id: string) => new ApiError(404, `No image found with ID ${id}`);
