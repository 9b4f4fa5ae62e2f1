import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';
import { graphql } from './doors.js';

// Acceptance 3: a GraphQL page of 100 backups with their jobs costs a fixed number of SQL queries.
//
// How they are counted: every statement node-postgres sends (the driver under Prisma's adapter) goes
// through pg.Client#query, which the test wraps while the request runs. The service runs in this
// process; its job engine is stopped first, so that its polling does not count.

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  const volumeId = await stack.cinder.createVolume('demo', 1);
  await stack.cinder.write(volumeId, 0, randomBytes(65536));
  const created = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volumeId } });
  await waitForBackup(stack, 'demo', created.body.backup.id);
  // 99 more backups of the volume, each with two jobs, as rows like the real one's.
  const {
    id: _id,
    metadata,
    ...real
  } = await stack.db.prisma.volumeBackup.findUniqueOrThrow({
    where: { id: created.body.backup.id },
  });
  const backups = Array.from({ length: 99 }, (_, i) => ({
    ...real,
    id: randomUUID(),
    name: `copy-${i}`,
    parentId: null,
    metadata: (metadata ?? {}) as Record<string, string>,
    createdAt: new Date(real.createdAt.getTime() - (i + 1) * 1000),
  }));
  await stack.db.prisma.volumeBackup.createMany({ data: backups });
  await stack.db.prisma.job.createMany({
    data: backups.flatMap((backup) =>
      (['volume_backup_create', 'volume_backup_verify'] as const).map((kind) => ({
        id: randomUUID(),
        kind,
        status: 'succeeded' as const,
        projectId: backup.projectId,
        volumeBackupId: backup.id,
        progressDone: 100n,
        progressTotal: 100n,
      })),
    ),
  });
  await stack.service.core.jobs.stop(5_000);
});
afterAll(() => stack?.close());

const PAGE = `query ($first: Int!) {
  volumeBackups(first: $first, orderBy: { field: CREATED_AT, direction: DESC }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id uuid name status storedBytes hasDependentBackups progress createdAt metadata
      parent { id }
      jobs { id kind status step progress { done total percent } finishedAt }
    } }
  }
}`;

async function countingQueries<T>(run: () => Promise<T>): Promise<{ result: T; queries: string[] }> {
  const queries: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    queries.push(typeof first === 'string' ? first : String((first as { text?: string })?.text ?? first));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    return { result: await run(), queries };
  } finally {
    pg.Client.prototype.query = original;
  }
}

describe('GraphQL and SQL', () => {
  it('lists 100 backups with their jobs in a fixed number of SQL queries, the same as for 10', async () => {
    await graphql(stack, 'demo', PAGE, { first: 1 }); // the token is validated and cached first
    const hundred = await countingQueries(() => graphql(stack, 'demo', PAGE, { first: 100 }));
    expect(hundred.result.body.errors).toBeUndefined();
    const page = hundred.result.body.data.volumeBackups;
    expect(page.totalCount).toBe(100);
    expect(page.edges).toHaveLength(100);
    expect(page.edges.slice(1).every((e: any) => e.node.jobs.length === 2)).toBe(true);
    expect(page.edges[0].node.jobs).toHaveLength(1);

    const ten = await countingQueries(() => graphql(stack, 'demo', PAGE, { first: 10 }));
    expect(ten.result.body.data.volumeBackups.edges).toHaveLength(10);
    // The page (with the dependents' count), the parents, the jobs, totalCount: 4, none per backup.
    expect(hundred.queries.length, hundred.queries.join('\n')).toBeGreaterThanOrEqual(2);
    expect(hundred.queries.length, hundred.queries.join('\n')).toBeLessThanOrEqual(5);
    expect(hundred.queries.length).toBe(ten.queries.length);
  });
});
