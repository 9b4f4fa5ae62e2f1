import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { imageSchema } from '../src/openstack/glance.js';
import { serverSchema, volumeAttachmentSchema } from '../src/openstack/nova.js';

// The Nova and Glance clients' response schemas against the upstream API samples
// (../shared/openstack-api-samples): what the clients parse is what the real services send.

const SAMPLES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/openstack-api-samples',
);
const sample = (file: string): unknown => JSON.parse(readFileSync(path.join(SAMPLES, file), 'utf8'));

describe('Nova responses', () => {
  it.each(['nova/servers/server-get-resp.json', 'nova/servers/v2.100/server-get-resp.json'])(
    'GET /servers/{id}: %s',
    (file) => {
      const { server } = z.object({ server: serverSchema }).parse(sample(file));
      expect(server.image).toEqual(expect.objectContaining({ id: '70a599e0-31e7-49b7-b260-868f441e862b' }));
      expect(server['os-extended-volumes:volumes_attached'].map((v) => v.id)).toEqual([
        'volume_id1',
        'volume_id2',
      ]);
      expect(server.status).toBe('ACTIVE');
    },
  );

  it('GET /servers/{id} at 2.1 has no root device name (it comes with 2.3, admin view): parsed as absent', () => {
    const { server } = z.object({ server: serverSchema }).parse(sample('nova/servers/server-get-resp.json'));
    expect(server['OS-EXT-SRV-ATTR:root_device_name']).toBeUndefined();
    expect(server.flavor).toMatchObject({ id: '1' });
  });

  it.each([
    'nova/os-volume_attachments/list-volume-attachments-resp.json',
    'nova/os-volume_attachments/v2.101/list-volume-attachments-resp.json',
  ])('GET /servers/{id}/os-volume_attachments: %s', (file) => {
    const { volumeAttachments } = z
      .object({ volumeAttachments: z.array(volumeAttachmentSchema) })
      .parse(sample(file));
    expect(volumeAttachments.map((a) => a.device)).toEqual(['/dev/sdc', '/dev/sdb']);
    expect(volumeAttachments.every((a) => a.volumeId && a.serverId)).toBe(true);
  });

  it('createImage from 2.45 answers {"image_id"}', () => {
    const body = sample('nova/servers/v2.45/server-action-create-image-resp.json') as { image_id?: string };
    expect(body.image_id).toBe('0e7761dd-ee98-41f0-ba35-05994e446431');
  });
});

describe('Glance responses', () => {
  it('GET /v2/images/{id} (flat, no envelope)', () => {
    const image = imageSchema.parse(sample('glance/image-show-response.json'));
    expect(image).toMatchObject({ status: 'active', size: 13167616, disk_format: 'qcow2' });
  });

  it('GET /v2/images', () => {
    const { images } = z
      .object({ images: z.array(imageSchema) })
      .parse(sample('glance/images-list-response.json'));
    expect(images.length).toBeGreaterThan(0);
  });
});
