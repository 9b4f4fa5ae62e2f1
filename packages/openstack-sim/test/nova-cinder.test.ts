/**
 * Nova and Cinder kept consistent: boot from volume, volume attachments, createImage of
 * image-backed and volume-backed servers, and Cinder's own state rules (snapshot force, delete,
 * revert, OSSA-2023-003 attachment deletion, pagination).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { call, clients, dataUrl, type Json, login, startTestSim, waitFor } from './helpers.js';

const GiB = 1024 ** 3;

describe('Nova ↔ Cinder', () => {
  let sim: Simulator;
  let demoToken: string;
  let backupToken: string;
  let demo: ReturnType<typeof clients>;
  let admin: ReturnType<typeof clients>;
  let backup: ReturnType<typeof clients>;
  let cirros: Json;
  let cirrosBytes: Buffer;

  beforeAll(async () => {
    // Slow enough that a poll sees the transitional states even on a loaded machine.
    sim = await startTestSim({ transitionDelayMs: 400 });
    demoToken = await login(sim, 'demo');
    backupToken = await login(sim, 'backup');
    demo = clients(sim, demoToken, sim.projects.demo.id);
    admin = clients(sim, await login(sim, 'admin'), sim.projects.admin.id);
    backup = clients(sim, backupToken, sim.projects.service.id);
    cirros = (await demo.glance('GET', '/v2/images')).body.images[0];
    const file = await fetch(`${sim.urls.glance}/v2/images/${cirros.id}/file`, {
      headers: { 'x-auth-token': demoToken },
    });
    cirrosBytes = Buffer.from(await file.arrayBuffer());
  });
  afterAll(() => sim?.close());

  /** sha256 of a volume of `size` GiB holding `data` at offset 0. */
  const shaOfImageOnVolume = (data: Buffer, sizeGb: number) => {
    const h = createHash('sha256').update(data);
    const zeros = Buffer.alloc(4 * 1024 * 1024);
    for (let left = sizeGb * GiB - data.length; left > 0; left -= zeros.length)
      h.update(zeros.subarray(0, Math.min(left, zeros.length)));
    return h.digest('hex');
  };

  it('the public image is the 1 MiB cirros with Glance checksums', () => {
    expect(cirros).toMatchObject({
      name: 'cirros-0.6.2-x86_64-disk',
      visibility: 'public',
      status: 'active',
      size: 1024 * 1024,
    });
    expect(cirrosBytes.length).toBe(1024 * 1024);
    expect(createHash('md5').update(cirrosBytes).digest('hex')).toBe(cirros.checksum);
    expect(createHash('sha512').update(cirrosBytes).digest('hex')).toBe(cirros.os_hash_value);
  });

  it('boot from an existing volume: the volume is in-use with an attachment, the server image is ""', async () => {
    const vol = await demo.createVolume(1);
    const boot = () =>
      demo.nova('POST', '/servers', {
        server: {
          name: 'bfv',
          flavorRef: '1',
          block_device_mapping_v2: [
            {
              boot_index: 0,
              uuid: vol,
              source_type: 'volume',
              destination_type: 'volume',
              delete_on_termination: false,
            },
          ],
        },
      });
    // As real Nova: an empty volume is not bootable until its owner says so.
    const refused = await boot();
    expect(refused.status).toBe(400);
    expect(refused.body.badRequest.message).toBe(`Block Device ${vol} is not bootable.`);
    expect(
      (await demo.cinder('POST', `/volumes/${vol}/action`, { 'os-set_bootable': { bootable: true } })).status,
    ).toBe(200);
    const r = await boot();
    expect(r.status, r.text).toBe(202);
    const id = r.body.server.id;
    expect((await demo.volume(vol)).status).toBe('reserved');
    await demo.waitServer(id, 'ACTIVE');
    const s = await demo.server(id);
    expect(s.image).toBe('');
    const v = await demo.volume(vol);
    expect(v.status).toBe('in-use');
    expect(v.attachments).toEqual([
      expect.objectContaining({
        server_id: id,
        volume_id: vol,
        device: '/dev/vda',
        attachment_id: expect.any(String),
      }),
    ]);
    const atts = await demo.cinder('GET', '/attachments/detail', undefined, {
      'openstack-api-version': 'volume 3.27',
    });
    expect(atts.body.attachments).toEqual([
      expect.objectContaining({
        id: v.attachments[0].attachment_id,
        instance: id,
        status: 'attached',
        volume_id: vol,
      }),
    ]);
    const va = await demo.nova('GET', `/servers/${id}/os-volume_attachments`);
    expect(va.body.volumeAttachments).toEqual([{ device: '/dev/vda', id: vol, serverId: id, volumeId: vol }]);
    // The root volume cannot be detached.
    expect((await demo.nova('DELETE', `/servers/${id}/os-volume_attachments/${vol}`)).status).toBe(400);
  });

  it('boot from an image into a new volume: Nova creates a bootable volume holding the image bytes', async () => {
    const r = await demo.nova('POST', '/servers', {
      server: {
        name: 'bfv-image',
        flavorRef: '1',
        imageRef: '',
        block_device_mapping_v2: [
          {
            boot_index: 0,
            uuid: cirros.id,
            source_type: 'image',
            destination_type: 'volume',
            volume_size: 1,
            delete_on_termination: true,
          },
        ],
      },
    });
    expect(r.status, r.text).toBe(202);
    const id = r.body.server.id;
    await demo.waitServer(id, 'ACTIVE');
    const s = await demo.server(id, '2.3');
    expect(s.image).toBe('');
    const [att] = s['os-extended-volumes:volumes_attached'];
    expect(att.delete_on_termination).toBe(true);
    const v = await demo.volume(att.id);
    expect(v).toMatchObject({ status: 'in-use', bootable: 'true', size: 1 });
    expect(v.volume_image_metadata.image_id).toBe(cirros.id);
    const sha = (await call('GET', `${dataUrl(sim, att.id)}/sha256`)).body.sha256;
    expect(sha).toBe(shaOfImageOnVolume(cirrosBytes, 1));

    // Deleting the server deletes a delete_on_termination volume.
    expect((await demo.nova('DELETE', `/servers/${id}`)).status).toBe(204);
    await waitFor(
      async () => (await demo.nova('GET', `/servers/${id}`)).status,
      (st) => st === 404,
    );
    await waitFor(
      async () => (await demo.cinder('GET', `/volumes/${att.id}`)).status,
      (st) => st === 404,
    );
  });

  it('attach and detach through Nova keep Cinder consistent (reserved → in-use → detaching → available)', async () => {
    const s = await demo.nova('POST', '/servers', {
      server: { name: 'att', imageRef: cirros.id, flavorRef: '1' },
    });
    const id = s.body.server.id;
    await demo.waitServer(id, 'ACTIVE');
    const vol = await demo.createVolume(1);
    const a = await demo.nova('POST', `/servers/${id}/os-volume_attachments`, {
      volumeAttachment: { volumeId: vol },
    });
    expect(a.status).toBe(200);
    expect(a.body.volumeAttachment).toEqual({ device: '/dev/vdb', id: vol, serverId: id, volumeId: vol });
    const attaching = await demo.waitVolume(vol, 'in-use');
    expect(attaching[0]).toBe('reserved');
    // Attaching it again, or attaching an in-use volume elsewhere, is refused.
    expect(
      (
        await demo.nova('POST', `/servers/${id}/os-volume_attachments`, {
          volumeAttachment: { volumeId: vol },
        })
      ).status,
    ).toBe(409);

    // Cinder refuses to drop an attachment Nova uses (OSSA-2023-003) unless a service token comes along.
    const attachmentId = (await demo.volume(vol)).attachments[0].attachment_id;
    const mv = { 'openstack-api-version': 'volume 3.27' };
    const refused = await demo.cinder('DELETE', `/attachments/${attachmentId}`, undefined, mv);
    expect(refused.status).toBe(409);
    expect(refused.body.conflictingRequest.message).toBe(
      `Detach volume from instance ${id} using the Compute API`,
    );
    expect(
      (
        await admin.cinder('POST', `/volumes/${vol}/action`, {
          'os-force_detach': { attachment_id: attachmentId },
        })
      ).status,
    ).toBe(409);

    expect((await demo.nova('DELETE', `/servers/${id}/os-volume_attachments/${vol}`)).status).toBe(202);
    const detaching = await demo.waitVolume(vol, 'available');
    expect(detaching[0]).toBe('detaching');
    expect((await demo.volume(vol)).attachments).toEqual([]);
    expect((await demo.nova('GET', `/servers/${id}/os-volume_attachments`)).body.volumeAttachments).toEqual(
      [],
    );

    // With a service token the attachment can be removed through Cinder.
    await demo.nova('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol } });
    await demo.waitVolume(vol, 'in-use');
    const attId = (await demo.volume(vol)).attachments[0].attachment_id;
    const ok = await demo.cinder('DELETE', `/attachments/${attId}`, undefined, {
      ...mv,
      'x-service-token': backupToken,
    });
    expect(ok.status).toBe(200);
    expect((await demo.volume(vol)).status).toBe('available');
  });

  it('createImage of an image-backed server uploads its root disk (queued → saving → active)', async () => {
    const s = await demo.nova('POST', '/servers', {
      server: { name: 'img', imageRef: cirros.id, flavorRef: '1' },
    });
    const id = s.body.server.id;
    await demo.waitServer(id, 'ACTIVE');
    const r = await demo.nova(
      'POST',
      `/servers/${id}/action`,
      { createImage: { name: 'snap-of-img', metadata: { k: 'v' } } },
      {
        'openstack-api-version': 'compute 2.45',
      },
    );
    expect(r.status).toBe(202);
    const imageId = r.body.image_id;
    const first = await demo.glance('GET', `/v2/images/${imageId}`);
    expect(first.body.status).toBe('queued');
    const tasks = await waitFor(
      async () => (await demo.server(id))['OS-EXT-STS:task_state'],
      (t) => t === null,
    );
    expect(tasks[0]).toBe('image_snapshot');
    const img = (await demo.glance('GET', `/v2/images/${imageId}`)).body;
    expect(img).toMatchObject({
      status: 'active',
      size: cirrosBytes.length,
      k: 'v',
      image_type: 'snapshot',
      instance_uuid: id,
      base_image_ref: cirros.id,
    });
    const data = await fetch(`${sim.urls.glance}/v2/images/${imageId}/file`, {
      headers: { 'x-auth-token': demoToken },
    });
    expect(Buffer.from(await data.arrayBuffer()).equals(cirrosBytes)).toBe(true);
  });

  it("createImage of a volume-backed server: forced Cinder snapshots in the caller's project and an image carrying the BDM", async () => {
    const root = await demo.createVolume(1, { imageRef: cirros.id });
    const data = await demo.createVolume(2);
    const r = await demo.nova('POST', '/servers', {
      server: {
        name: 'bfv-snap',
        flavorRef: '1',
        block_device_mapping_v2: [
          { boot_index: 0, uuid: root, source_type: 'volume', destination_type: 'volume' },
          {
            boot_index: -1,
            uuid: data,
            source_type: 'volume',
            destination_type: 'volume',
            device_name: '/dev/vdb',
          },
        ],
      },
    });
    const id = r.body.server.id;
    await demo.waitServer(id, 'ACTIVE');

    // The backup service's user (admin + service on `service`) snapshots the demo server.
    const c = await backup.nova('POST', `/servers/${id}/action`, { createImage: { name: 'instance-snap' } });
    expect(c.status).toBe(202);
    const imageId = c.headers.get('location')!.split('/').pop()!;
    const img = (
      await waitFor(
        async () => (await backup.glance('GET', `/v2/images/${imageId}`)).body,
        (i) => i.status === 'active',
      )
    ).at(-1);
    expect(img.size).toBe(0);
    expect(img.owner).toBe(sim.projects.service.id);
    expect(img.bdm_v2).toBe('True');
    expect(img.root_device_name).toBe('/dev/vda');
    const bdm = JSON.parse(img.block_device_mapping);
    expect(bdm).toHaveLength(2);
    expect(
      bdm.map((b: Json) => [b.boot_index, b.device_name, b.source_type, b.destination_type, b.volume_size]),
    ).toEqual([
      [0, '/dev/vda', 'snapshot', 'volume', 1],
      [-1, '/dev/vdb', 'snapshot', 'volume', 2],
    ]);
    for (const [i, volumeId] of [root, data].entries()) {
      const snap = await backup.snapshot(bdm[i].snapshot_id);
      expect(snap).toMatchObject({
        volume_id: volumeId,
        status: 'available',
        name: 'snapshot for instance-snap',
      });
      expect(snap['os-extended-snapshot-attributes:project_id']).toBe(sim.projects.service.id);
      // The demo project does not see the service project's snapshot.
      expect((await demo.cinder('GET', `/snapshots/${bdm[i].snapshot_id}`)).status).toBe(404);
    }
    // Booting from the snapshot image's mapping: a new volume from the root snapshot.
    const fromSnap = await backup.nova('POST', '/servers', {
      server: {
        name: 'from-snap',
        flavorRef: '1',
        block_device_mapping_v2: [
          {
            boot_index: 0,
            uuid: bdm[0].snapshot_id,
            source_type: 'snapshot',
            destination_type: 'volume',
            volume_size: 1,
          },
        ],
      },
    });
    expect(fromSnap.status, fromSnap.text).toBe(202);
    const srv = (await backup.waitServer(fromSnap.body.server.id, 'ACTIVE')).at(-1);
    const newVol = srv['os-extended-volumes:volumes_attached'][0].id;
    expect((await call('GET', `${dataUrl(sim, newVol)}/sha256`)).body.sha256).toBe(
      (await call('GET', `${dataUrl(sim, root)}/sha256`)).body.sha256,
    );
  });

  describe('Cinder state rules', () => {
    it('a snapshot of an in-use volume needs force (400 without)', async () => {
      const vol = await demo.createVolume(1);
      await demo.cinder('POST', `/volumes/${vol}/action`, {
        'os-attach': { instance_uuid: '95d9ef50-507d-11e5-b970-0800200c9a66', mountpoint: '/dev/vdb' },
      });
      expect((await demo.volume(vol)).status).toBe('in-use');
      const r = await demo.cinder('POST', '/snapshots', { snapshot: { volume_id: vol } });
      expect(r.status).toBe(400);
      expect(r.body.badRequest.message).toBe(
        `Invalid volume: Volume ${vol} status must be available, but current status is: in-use.`,
      );
      expect(
        (await demo.cinder('POST', '/snapshots', { snapshot: { volume_id: vol, force: 'true' } })).status,
      ).toBe(202);
      expect(
        (await demo.cinder('POST', '/snapshots', { snapshot: { volume_id: vol, force: 'maybe' } })).status,
      ).toBe(400);
      // An attached volume cannot be deleted either.
      expect((await demo.cinder('DELETE', `/volumes/${vol}`)).status).toBe(400);
    });

    it('revert: 3.40+, only the newest snapshot, only of an available volume', async () => {
      const vol = await demo.createVolume(1);
      const s1 = await demo.createSnapshot(vol);
      const s2 = await demo.createSnapshot(vol);
      const revert = (snap: string, mv = '3.40') =>
        demo.cinder(
          'POST',
          `/volumes/${vol}/action`,
          { revert: { snapshot_id: snap } },
          { 'openstack-api-version': `volume ${mv}` },
        );
      expect((await revert(s2, '3.39')).status).toBe(404);
      const older = await revert(s1);
      expect(older.status).toBe(400);
      expect(older.body.badRequest.message).toContain('not the latest one');
      await demo.cinder('POST', `/volumes/${vol}/action`, {
        'os-attach': { instance_uuid: '95d9ef50-507d-11e5-b970-0800200c9a66', mountpoint: '/dev/vdb' },
      });
      const inUse = await revert(s2);
      expect(inUse.status).toBe(409);
      expect(Object.keys(inUse.body)).toEqual(['conflictingRequest']);
      const attachmentId = (await demo.volume(vol)).attachments[0].attachment_id;
      await demo.cinder('POST', `/volumes/${vol}/action`, { 'os-detach': { attachment_id: attachmentId } });
      expect((await revert(s2)).status).toBe(202);
      const seen = await demo.waitVolume(vol, 'available');
      expect(seen[0]).toBe('reverting');
    });

    it('extend: in-use only from 3.42; the new size must be larger', async () => {
      const vol = await demo.createVolume(1);
      expect(
        (await demo.cinder('POST', `/volumes/${vol}/action`, { 'os-extend': { new_size: 1 } })).status,
      ).toBe(400);
      await demo.cinder('POST', `/volumes/${vol}/action`, {
        'os-attach': { instance_uuid: '95d9ef50-507d-11e5-b970-0800200c9a66', mountpoint: '/dev/vdb' },
      });
      expect(
        (await demo.cinder('POST', `/volumes/${vol}/action`, { 'os-extend': { new_size: 2 } })).status,
      ).toBe(400);
      const r = await demo.cinder(
        'POST',
        `/volumes/${vol}/action`,
        { 'os-extend': { new_size: 2 } },
        { 'openstack-api-version': 'volume 3.42' },
      );
      expect(r.status).toBe(202);
      const seen = await demo.waitVolume(vol, 'in-use');
      expect(seen[0]).toBe('extending');
      expect((await demo.volume(vol)).size).toBe(2);
    });

    it('os-set_bootable answers 200; unknown actions 400', async () => {
      const vol = await demo.createVolume(1);
      expect(
        (await demo.cinder('POST', `/volumes/${vol}/action`, { 'os-set_bootable': { bootable: true } }))
          .status,
      ).toBe(200);
      expect((await demo.volume(vol)).bootable).toBe('true');
      const r = await demo.cinder('POST', `/volumes/${vol}/action`, { 'os-frobnicate': {} });
      expect(r.status).toBe(400);
      expect(r.body.badRequest.message).toBe('There is no such action: os-frobnicate');
    });

    it('pagination: volumes_links / snapshots_links when the page is full, Glance next, Nova servers_links', async () => {
      const api = clients(sim, await login(sim, 'alt_demo'), sim.projects.alt_demo.id);
      const ids = [await api.createVolume(1), await api.createVolume(1), await api.createVolume(1)];
      const page1 = await api.cinder('GET', '/volumes?limit=2');
      expect(page1.body.volumes.map((v: Json) => v.id)).toEqual([ids[2], ids[1]]);
      const next = new URL(page1.body.volumes_links[0].href);
      expect(page1.body.volumes_links[0].rel).toBe('next');
      expect(next.searchParams.get('marker')).toBe(ids[1]);
      const page2 = await call('GET', next.toString(), { token: await login(sim, 'alt_demo') });
      expect(page2.body.volumes.map((v: Json) => v.id)).toEqual([ids[0]]);
      expect(page2.body.volumes_links).toBeUndefined();
      const counted = await api.cinder('GET', '/volumes/detail?with_count=true', undefined, {
        'openstack-api-version': 'volume 3.45',
      });
      expect(counted.body.count).toBe(3);
      expect((await api.cinder('GET', '/volumes?marker=nope')).status).toBe(404);

      const g = await api.glance('GET', '/v2/images?limit=1');
      expect(g.body.images).toHaveLength(1);
      expect(g.body.next).toMatch(/^\/v2\/images\?.*marker=/);
    });
  });
});
