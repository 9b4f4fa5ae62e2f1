import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';

// Acceptance 1: every route answers with the seed's status code and body shape; the list supports
// limit, marker, sort, the filters of SPEC §5.1 and backups_links.

let stack: Stack;
let volumeId: string;
let otherVolumeId: string;
const ids: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  volumeId = await stack.cinder.createVolume('demo', 1);
  otherVolumeId = await stack.cinder.createVolume('demo', 1);
  await stack.cinder.write(volumeId, 0, randomBytes(128 * 1024));
  await stack.cinder.write(otherVolumeId, 0, randomBytes(64 * 1024));
  for (const [i, vol] of [volumeId, volumeId, otherVolumeId, volumeId].entries()) {
    const { status, body } = await stack.v1('demo', 'POST', '/volume/backup', {
      backup: { volume_id: vol, name: `b${i}`, description: `backup ${i}`, metadata: { n: String(i) } },
    });
    expect(status).toBe(201);
    ids.push(body.backup.id);
    await waitForBackup(stack, 'demo', body.backup.id);
  }
});
afterAll(() => stack?.close());

const VIEW_KEYS = [
  'availability_zone',
  'container',
  'created_at',
  'data_timestamp',
  'description',
  'fail_reason',
  'has_dependent_backups',
  'id',
  'is_incremental',
  'links',
  'metadata',
  'name',
  'object_count',
  'parent_id',
  'progress',
  'project_id',
  'size',
  'snapshot_id',
  'status',
  'stored_bytes',
  'updated_at',
  'user_id',
  'volume_id',
].sort();

describe('/v1/volume/backup', () => {
  it('POST answers 201 {"backup": {"id": …}} with the request id header', async () => {
    const { status, body, headers } = await stack.v1('demo', 'POST', '/volume/backup', {
      backup: { volume_id: volumeId },
    });
    expect(status).toBe(201);
    expect(Object.keys(body)).toEqual(['backup']);
    expect(Object.keys(body.backup)[0]).toBe('id');
    expect(body.backup.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
    await waitForBackup(stack, 'demo', body.backup.id);
    await stack.v1('demo', 'DELETE', `/volume/backup/${body.backup.id}`);
    await expect
      .poll(async () => (await stack.v1('demo', 'GET', `/volume/backup/${body.backup.id}`)).status, {
        timeout: 30_000,
      })
      .toBe(404);
  });

  it('GET /<id> answers 200 {"backup": {…}} with the full view, 404 when absent', async () => {
    const { status, body } = await stack.v1('demo', 'GET', `/volume/backup/${ids[1]}`);
    expect(status).toBe(200);
    expect(Object.keys(body.backup).sort()).toEqual(VIEW_KEYS);
    expect(body.backup).toMatchObject({
      id: ids[1],
      name: 'b1',
      description: 'backup 1',
      volume_id: volumeId,
      status: 'available',
      size: 1,
      is_incremental: true,
      parent_id: ids[0],
      has_dependent_backups: true,
      metadata: { n: '1' },
      progress: 100,
    });
    expect(body.backup.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const missing = await stack.v1('demo', 'GET', '/volume/backup/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      itemNotFound: { code: 404, message: 'Backup 00000000-0000-4000-8000-000000000000 could not be found.' },
    });
  });

  it('GET lists {"backups": […]} newest first by default', async () => {
    const { status, body } = await stack.v1('demo', 'GET', '/volume/backup');
    expect(status).toBe(200);
    expect(body.backups.map((b: { id: string }) => b.id)).toEqual([...ids].reverse());
    expect(body.backups_links).toBeUndefined();
  });

  it('a listed backup is exactly its GET /<id> view (PostgreSQL renders lists, TypeScript single rows)', async () => {
    const { status, body, headers } = await stack.v1('demo', 'GET', '/volume/backup');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(body.backups.some((b: { has_dependent_backups: boolean }) => b.has_dependent_backups)).toBe(true);
    for (const listed of body.backups) {
      const shown = await stack.v1('demo', 'GET', `/volume/backup/${listed.id}`);
      expect(listed).toStrictEqual(shown.body.backup);
    }
  });

  it('pages with limit and marker, and links the next page while more remain', async () => {
    const first = await stack.v1('demo', 'GET', '/volume/backup?limit=3&sort=created_at:asc');
    expect(first.body.backups.map((b: { id: string }) => b.id)).toEqual(ids.slice(0, 3));
    const next = first.body.backups_links[0];
    expect(next.rel).toBe('next');
    const nextUrl = new URL(next.href);
    expect(nextUrl.searchParams.get('marker')).toBe(ids[2]);
    expect(nextUrl.searchParams.get('sort')).toBe('created_at:asc');
    const second = await stack.v1('demo', 'GET', `/volume/backup${nextUrl.search}`);
    expect(second.body.backups.map((b: { id: string }) => b.id)).toEqual(ids.slice(3));
    expect(second.body.backups_links).toBeUndefined();
  });

  it('sorts by name descending and filters by status, volume_id and name', async () => {
    const byName = await stack.v1('demo', 'GET', '/volume/backup?sort=name:desc');
    expect(byName.body.backups.map((b: { name: string }) => b.name)).toEqual(['b3', 'b2', 'b1', 'b0']);
    const byVolume = await stack.v1('demo', 'GET', `/volume/backup?volume_id=${otherVolumeId}`);
    expect(byVolume.body.backups.map((b: { id: string }) => b.id)).toEqual([ids[2]]);
    const byNameFilter = await stack.v1('demo', 'GET', '/volume/backup?name=b1');
    expect(byNameFilter.body.backups.map((b: { id: string }) => b.id)).toEqual([ids[1]]);
    const byStatus = await stack.v1('demo', 'GET', '/volume/backup?status=error');
    expect(byStatus.body.backups).toEqual([]);
  });

  it('the update action answers 201 and changes name, description and metadata', async () => {
    const { status, body } = await stack.v1('demo', 'POST', `/volume/backup/${ids[3]}/action`, {
      update: { name: 'renamed', description: 'new words', metadata: { k: 'v' } },
    });
    expect(status).toBe(201);
    expect(body.backup).toMatchObject({
      id: ids[3],
      name: 'renamed',
      description: 'new words',
      metadata: { k: 'v' },
    });
    const shown = await stack.v1('demo', 'GET', `/volume/backup/${ids[3]}`);
    expect(shown.body.backup.name).toBe('renamed');
  });

  it('an unknown action is 400 naming it', async () => {
    const { status, body } = await stack.v1('demo', 'POST', `/volume/backup/${ids[3]}/action`, {
      explode: {},
    });
    expect(status).toBe(400);
    expect(body.badRequest.message).toContain('Unknown action: "explode"');
  });

  it('DELETE answers 201 {"backup": {"id": …}} and the backup goes away', async () => {
    const { body: created } = await stack.v1('demo', 'POST', '/volume/backup', {
      backup: { volume_id: otherVolumeId, incremental: false },
    });
    await waitForBackup(stack, 'demo', created.backup.id);
    const { status, body } = await stack.v1('demo', 'DELETE', `/volume/backup/${created.backup.id}`);
    expect(status).toBe(201);
    expect(body).toEqual({ backup: { id: created.backup.id } });
    await expect
      .poll(async () => (await stack.v1('demo', 'GET', `/volume/backup/${created.backup.id}`)).status, {
        timeout: 30_000,
      })
      .toBe(404);
  });
});
