import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';
import { globalId, graphql, settleJobs, subscribe } from './doors.js';

// Acceptance 3 (a page of 100 backups with their jobs in a bounded number of SQL queries) and 4 (job
// progress over SSE), plus connections, node lookups and query limits.

const MiB = 1024 * 1024;
let stack: Stack;
let volumeId: string;
let firstBackup: string;

beforeAll(async () => {
  stack = await startStack();
  volumeId = await stack.cinder.createVolume('demo', 1);
  await stack.cinder.write(volumeId, 0, randomBytes(MiB));
  const created = await stack.v1('demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId, name: 'b-000' },
  });
  firstBackup = created.body.backup.id;
  await waitForBackup(stack, 'demo', firstBackup);
});
afterAll(async () => {
  if (!stack) return;
  try {
    await settleJobs(stack);
  } finally {
    await stack.close();
  }
});

describe('the /graphql door', () => {
  it('answers 401 without a valid token, and serves GraphiQL with nothing from elsewhere', async () => {
    const anonymous = await graphql(stack, null, '{ volumeBackups { edges { node { id } } } }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });

    const page = await fetch(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('GraphiQL');
    expect(html).not.toMatch(/<script[^>]+src=["']?https?:|<link[^>]+href=["']?https?:/i);
  });

  it('looks a backup up by global id or UUID, and as a node; another project sees nothing', async () => {
    const query = `query ($id: ID!) { volumeBackup(id: $id) { id uuid name status volumeId jobs { kind status progress { percent } } } }`;
    const byGlobal = await graphql(stack, 'demo', query, { id: globalId('VolumeBackup', firstBackup) });
    expect(byGlobal.body.errors).toBeUndefined();
    expect(byGlobal.body.data.volumeBackup).toMatchObject({
      id: globalId('VolumeBackup', firstBackup),
      uuid: firstBackup,
      name: 'b-000',
      status: 'available',
      volumeId,
      jobs: [{ kind: 'volume_backup_create', status: 'succeeded', progress: { percent: 100 } }],
    });
    const byUuid = await graphql(stack, 'demo', query, { id: firstBackup });
    expect(byUuid.body.data.volumeBackup.uuid).toBe(firstBackup);

    const node = `query ($id: ID!) { node(id: $id) { id ... on VolumeBackup { uuid } } }`;
    expect(
      (await graphql(stack, 'demo', node, { id: globalId('VolumeBackup', firstBackup) })).body.data.node,
    ).toEqual({
      id: globalId('VolumeBackup', firstBackup),
      uuid: firstBackup,
    });
    const other = await graphql(stack, 'alt_demo', node, { id: globalId('VolumeBackup', firstBackup) });
    expect(other.body.data.node).toBeNull();
    const hidden = await graphql(stack, 'alt_demo', query, { id: firstBackup });
    expect(hidden.body.data?.volumeBackup ?? null).toBeNull();
    expect(hidden.body.errors?.[0]).toMatchObject({
      message: `Backup ${firstBackup} could not be found.`,
      extensions: { code: 'NOT_FOUND', status: 404 },
    });
  });

  it("reads a volume's restore points and (admin) the repositories' statistics; restores a backup", async () => {
    const points = await graphql(
      stack,
      'demo',
      'query ($v: String!) { restorePoints(volumeId: $v) { kind id status } }',
      {
        v: volumeId,
      },
    );
    expect(points.body.data.restorePoints).toEqual([
      { kind: 'backup', id: firstBackup, status: 'available' },
    ]);
    const foreign = await graphql(
      stack,
      'alt_demo',
      'query ($v: String!) { restorePoints(volumeId: $v) { id } }',
      {
        v: volumeId,
      },
    );
    expect(foreign.body.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', status: 404 });

    const stats =
      '{ repositoryStats { backupCount logicalBytes storedBytes dedupRatio chunkCount packCount } }';
    const admin = await graphql(stack, 'admin', stats);
    expect(admin.body.data.repositoryStats).toEqual([
      expect.objectContaining({ backupCount: 1, logicalBytes: MiB }),
    ]);
    const [repository] = admin.body.data.repositoryStats;
    expect(repository.chunkCount).toBeGreaterThan(0);
    expect(repository.dedupRatio).toBeCloseTo(MiB / repository.storedBytes, 5);
    expect((await graphql(stack, 'demo', stats)).body.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
    });

    const restored = await graphql(
      stack,
      'demo',
      'mutation ($id: ID!) { restoreVolumeBackup(id: $id, name: "gql-restore") { backupId volumeId volumeName } }',
      { id: globalId('VolumeBackup', firstBackup) },
    );
    expect(restored.body.data.restoreVolumeBackup).toMatchObject({
      backupId: firstBackup,
      volumeName: 'gql-restore',
    });
    await stack.cinder.waitVolume('demo', restored.body.data.restoreVolumeBackup.volumeId, 'available');
    expect(await stack.cinder.sha256(restored.body.data.restoreVolumeBackup.volumeId)).toBe(
      await stack.cinder.sha256(volumeId),
    );
    await waitForBackup(stack, 'demo', firstBackup);
  });

  it('pages through a connection with a filter and an order', async () => {
    const vol = await stack.cinder.createVolume('demo', 1);
    for (const name of ['gamma', 'alpha', 'beta']) {
      const { body } = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: vol, name } });
      await waitForBackup(stack, 'demo', body.backup.id);
    }
    const query = `query ($volumeId: String!, $after: String) {
      volumeBackups(first: 2, after: $after, filter: { volumeId: $volumeId }, orderBy: { field: NAME, direction: ASC }) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { name isIncremental } }
      }
    }`;
    const first = await graphql(stack, 'demo', query, { volumeId: vol });
    expect(first.body.errors).toBeUndefined();
    const one = first.body.data.volumeBackups;
    expect(one.totalCount).toBe(3);
    expect(one.edges.map((e: any) => e.node.name)).toEqual(['alpha', 'beta']);
    expect(one.pageInfo.hasNextPage).toBe(true);
    const second = await graphql(stack, 'demo', query, { volumeId: vol, after: one.pageInfo.endCursor });
    expect(second.body.data.volumeBackups.edges.map((e: any) => e.node.name)).toEqual(['gamma']);
    expect(second.body.data.volumeBackups.pageInfo.hasNextPage).toBe(false);

    const others = await graphql(stack, 'alt_demo', query, { volumeId: vol });
    expect(others.body.data.volumeBackups.totalCount).toBe(0);
    const allTenants = await graphql(stack, 'demo', '{ volumeBackups(allTenants: true) { totalCount } }');
    expect(allTenants.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    const admin = await graphql(stack, 'admin', '{ volumeBackups(allTenants: true) { totalCount } }');
    expect(admin.body.data.volumeBackups.totalCount).toBe(4);
  });

  it('refuses queries that are too deep or too costly before running them', async () => {
    let nested = 'id';
    for (let i = 0; i < 6; i++) nested = `jobs { volumeBackup { ${nested} } }`;
    const deep = await graphql(stack, 'demo', `query ($id: ID!) { volumeBackup(id: $id) { ${nested} } }`, {
      id: firstBackup,
    });
    expect(deep.body.errors?.[0]?.message).toMatch(/depth/);
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_REQUEST', status: 400 });

    const costly = await graphql(
      stack,
      'demo',
      '{ volumeBackups(first: 100) { edges { node { jobs { volumeBackup { jobs { id kind status step attempts } } } } } } }',
    );
    expect(costly.body.errors?.[0]?.message).toMatch(/complexity/);
    expect(costly.body.data?.volumeBackups ?? null).toBeNull();
  });

  it("streams a backup job's progress over SSE: increasing, then its final status", async () => {
    const vol = await stack.cinder.createVolume('demo', 2);
    for (let offset = 0; offset < 384 * MiB; offset += 32 * MiB)
      await stack.cinder.write(vol, offset, randomBytes(32 * MiB));
    const created = await graphql(
      stack,
      'demo',
      'mutation ($input: CreateVolumeBackupInput!) { createVolumeBackup(input: $input) { uuid status jobs { id kind } } }',
      { input: { volumeId: vol, name: 'watched' } },
    );
    expect(created.body.errors).toBeUndefined();
    const backup = created.body.data.createVolumeBackup;
    expect(backup.status).toBe('creating');
    const [job] = backup.jobs;
    expect(job.kind).toBe('volume_backup_create');

    const events: Array<{ status: string; step: string; progress: { percent: number; done: number } }> = [];
    const stream = subscribe(
      stack,
      'demo',
      'subscription ($id: ID!) { jobProgress(id: $id) { status step progress { done total percent } volumeBackup { uuid status } } }',
      { id: job.id },
      AbortSignal.timeout(120_000),
    );
    for await (const event of stream) {
      expect(event.errors).toBeUndefined();
      events.push(event.data.jobProgress);
    }
    const percents = events.map((e) => e.progress.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(
      percents.some((p) => p > 0 && p < 100),
      JSON.stringify(events),
    ).toBe(true);
    expect(events.at(-1)).toMatchObject({
      status: 'succeeded',
      progress: { percent: 100 },
      volumeBackup: { uuid: backup.uuid, status: 'available' },
    });

    // Someone else's job: the subscription ends with NOT_FOUND at once.
    const foreign = subscribe(
      stack,
      'alt_demo',
      'subscription ($id: ID!) { jobProgress(id: $id) { status } }',
      {
        id: job.id,
      },
    );
    const refused = [];
    for await (const event of foreign) refused.push(event);
    expect(refused).toMatchObject([{ errors: [{ extensions: { code: 'NOT_FOUND' } }] }]);
  });
});
