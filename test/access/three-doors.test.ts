import { randomBytes } from 'node:crypto';
import { type BackupClient, createBackupClient, TRPCClientError, waitFor } from '@backup-service/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstanceArtifact } from '../support/instances.js';
import { SimNova } from '../support/nova.js';
import { type Stack, startStack, type UserName, waitForBackup } from '../support/stack.js';
import { graphql, settleJobs } from './doors.js';

// Acceptance 2: the same operation through /v1, tRPC and GraphQL gives the same result and the same
// authorization decision. Each door's answer is brought to one form: the decision (ok, or the HTTP
// status /v1 answers; tRPC's httpStatus; GraphQL's extensions.status) and the result in common terms.

type Door = 'v1' | 'trpc' | 'graphql';
const DOORS: Door[] = ['v1', 'trpc', 'graphql'];
type Caller = UserName | 'anonymous';
type Outcome = { decision: 'ok'; value: unknown } | { decision: number };

let stack: Stack;
const clients = new Map<Caller, BackupClient>();
let volumeId: string;
let shared: string; // a backup of demo's every read and harmless write goes to
let snapshotVolume: string;
let snapshotId: string;
let serverId: string;
let instanceBackup: string;
const perDoor: Record<'delete' | 'restore' | 'deleteSnapshot', Record<Door, string>> = {
  delete: { v1: '', trpc: '', graphql: '' },
  restore: { v1: '', trpc: '', graphql: '' },
  deleteSnapshot: { v1: '', trpc: '', graphql: '' },
};

beforeAll(async () => {
  stack = await startStack();
  for (const user of ['demo', 'alt_demo', 'reader', 'admin'] as const)
    clients.set(user, createBackupClient({ url: stack.url, token: await stack.token(user) }));
  clients.set('anonymous', createBackupClient({ url: stack.url, token: '' }));
  volumeId = await stack.cinder.createVolume('demo', 1);
  await stack.cinder.write(volumeId, 0, randomBytes(256 * 1024));
  const backup = async (name: string) => {
    const { body } = await stack.v1('demo', 'POST', '/volume/backup', {
      backup: { volume_id: volumeId, name, metadata: { purpose: 'doors' } },
    });
    await waitForBackup(stack, 'demo', body.backup.id);
    return body.backup.id as string;
  };
  shared = await backup('shared');
  for (const door of DOORS) {
    perDoor.delete[door] = await backup(`delete-${door}`);
    perDoor.restore[door] = await backup(`restore-${door}`);
  }
  snapshotVolume = await stack.cinder.createVolume('demo', 1);
  snapshotId = await stack.cinder.createSnapshot('demo', snapshotVolume);

  const boot = await stack.cinder.createVolume('demo', 1);
  serverId = await new SimNova(stack).createServer('demo', { bootVolumeId: boot });
  const made = await stack.v1('demo', 'POST', '/instance/backup', {
    backup: { instance_id: serverId, name: 'ib' },
  });
  instanceBackup = made.body.backup.id;
  await waitForInstanceArtifact(stack, 'demo', 'backup', instanceBackup);
  for (const door of DOORS) {
    const { body } = await stack.v1('demo', 'POST', '/instance/snapshot', {
      snapshot: { instance_id: serverId, name: `delete-${door}` },
    });
    perDoor.deleteSnapshot[door] = body.snapshot.id;
    await waitForInstanceArtifact(stack, 'demo', 'snapshot', body.snapshot.id);
  }
});
afterAll(async () => {
  if (!stack) return;
  try {
    await settleJobs(stack);
  } finally {
    await stack.close();
  }
});

// ── each door, in its own terms ───────────────────────────────────────────────────────────────

async function viaV1(user: Caller, method: string, path: string, body?: unknown): Promise<Outcome> {
  const answer = await stack.v1(user === 'anonymous' ? null : user, method, path, body);
  return answer.status < 300 ? { decision: 'ok', value: answer.body } : { decision: answer.status };
}

async function viaTrpc(user: Caller, call: (client: BackupClient) => Promise<unknown>): Promise<Outcome> {
  try {
    return { decision: 'ok', value: await call(clients.get(user) as BackupClient) };
  } catch (error) {
    if (!(error instanceof TRPCClientError)) throw error;
    return { decision: (error.data as { httpStatus: number }).httpStatus };
  }
}

async function viaGraphql(user: Caller, query: string, variables: Record<string, unknown>): Promise<Outcome> {
  const { body } = await graphql(stack, user === 'anonymous' ? null : user, query, variables);
  const error = body.errors?.[0];
  if (error) return { decision: error.extensions?.status ?? 500 };
  return { decision: 'ok', value: Object.values(body.data)[0] };
}

// ── results in common terms ──────────────────────────────────────────────────────────────────

const time = (value: string) => new Date(/Z$/.test(value) ? value : `${value}Z`).getTime();

function backupFromV1(b: any) {
  return {
    id: b.id,
    name: b.name,
    description: b.description,
    volumeId: b.volume_id,
    status: b.status,
    size: b.size,
    isIncremental: b.is_incremental,
    hasDependentBackups: b.has_dependent_backups,
    metadata: b.metadata,
    projectId: b.project_id,
    createdAt: time(b.created_at),
  };
}
function backupFromApi(b: any) {
  return {
    id: b.uuid ?? b.id,
    name: b.name,
    description: b.description,
    volumeId: b.volumeId,
    status: b.status,
    size: b.sizeGb,
    isIncremental: b.isIncremental,
    hasDependentBackups: b.hasDependentBackups,
    metadata: b.metadata,
    projectId: b.projectId,
    createdAt: time(b.createdAt),
  };
}
const BACKUP_FIELDS =
  'uuid name description volumeId status sizeGb isIncremental hasDependentBackups metadata projectId createdAt';

const sortedIds = (ids: string[]) => [...ids].sort();

function instanceArtifactFromV1(a: any) {
  return {
    id: a.id,
    name: a.name,
    instanceId: a.instance_id,
    status: a.status,
    projectId: a.project_id,
    metadata: a.metadata,
    volumes: sortedIds((a.volume_snapshots ?? a.volume_backups).map((e: any) => e.volume_id)),
  };
}
function instanceArtifactFromApi(a: any) {
  return {
    id: a.uuid ?? a.id,
    name: a.name,
    instanceId: a.instanceId,
    status: a.status,
    projectId: a.projectId,
    metadata: a.metadata,
    volumes: sortedIds(
      (a.volumeSnapshots ?? a.volumeBackupEntries ?? a.volumeBackups).map((e: any) => e.volumeId),
    ),
  };
}
const SNAPSHOT_FIELDS = 'uuid name instanceId status projectId metadata volumeSnapshots { volumeId }';
const INSTANCE_BACKUP_FIELDS =
  'uuid name instanceId status projectId metadata volumeBackupEntries { volumeId }';

// ── the operations ───────────────────────────────────────────────────────────────────────────

interface Operation {
  run: Record<Door, (user: Caller) => Promise<Outcome>>;
  /** The result in common terms (default: as it is). */
  common?: Record<Door, (value: any) => unknown>;
}

const backupCommon = { v1: (v: any) => backupFromV1(v.backup), trpc: backupFromApi, graphql: backupFromApi };

const operations: Record<string, Operation> = {
  'show a backup': {
    run: {
      v1: (u) => viaV1(u, 'GET', `/volume/backup/${shared}`),
      trpc: (u) => viaTrpc(u, (c) => c.volumeBackups.get.query({ id: shared })),
      graphql: (u) =>
        viaGraphql(u, `query ($id: ID!) { volumeBackup(id: $id) { ${BACKUP_FIELDS} } }`, { id: shared }),
    },
    common: backupCommon,
  },
  "list a volume's backups": {
    run: {
      v1: (u) => viaV1(u, 'GET', `/volume/backup?volume_id=${volumeId}&limit=3&sort=name:asc`),
      trpc: (u) =>
        viaTrpc(u, (c) =>
          c.volumeBackups.list.query({ volumeId, limit: 3, sort: { key: 'name', dir: 'asc' } }),
        ),
      graphql: (u) =>
        viaGraphql(
          u,
          `query ($v: String!) { volumeBackups(first: 3, filter: { volumeId: $v }, orderBy: { field: NAME, direction: ASC }) { edges { node { ${BACKUP_FIELDS} } } } }`,
          { v: volumeId },
        ),
    },
    common: {
      v1: (v) => v.backups.map(backupFromV1),
      trpc: (v) => v.items.map(backupFromApi),
      graphql: (v) => v.edges.map((e: any) => backupFromApi(e.node)),
    },
  },
  "list every project's backups": {
    run: {
      v1: (u) => viaV1(u, 'GET', '/volume/backup?all_tenants=1'),
      trpc: (u) => viaTrpc(u, (c) => c.volumeBackups.list.query({ allTenants: true })),
      graphql: (u) =>
        viaGraphql(u, '{ volumeBackups(allTenants: true, first: 100) { edges { node { uuid } } } }', {}),
    },
    common: {
      v1: (v) => sortedIds(v.backups.map((b: any) => b.id)),
      trpc: (v) => sortedIds(v.items.map((b: any) => b.id)),
      graphql: (v) => sortedIds(v.edges.map((e: any) => e.node.uuid)),
    },
  },
  'back up a volume': {
    run: {
      v1: (u) =>
        viaV1(u, 'POST', '/volume/backup', {
          backup: { volume_id: volumeId, name: 'made', metadata: { k: 'v' } },
        }),
      trpc: (u) =>
        viaTrpc(u, (c) => c.volumeBackups.create.mutate({ volumeId, name: 'made', metadata: { k: 'v' } })),
      graphql: (u) =>
        viaGraphql(
          u,
          `mutation ($v: String!) { createVolumeBackup(input: { volumeId: $v, name: "made", metadata: { k: "v" } }) { ${BACKUP_FIELDS} } }`,
          { v: volumeId },
        ),
    },
    common: {
      v1: (v) => made(backupFromV1(v.backup)),
      trpc: (v) => made(backupFromApi(v)),
      graphql: (v) => made(backupFromApi(v)),
    },
  },
  'rename a backup': {
    run: {
      v1: (u) =>
        viaV1(u, 'POST', `/volume/backup/${shared}/action`, { update: { name: 'shared', description: 'd' } }),
      trpc: (u) =>
        viaTrpc(u, (c) => c.volumeBackups.update.mutate({ id: shared, name: 'shared', description: 'd' })),
      graphql: (u) =>
        viaGraphql(
          u,
          `mutation ($id: ID!) { updateVolumeBackup(input: { id: $id, name: "shared", description: "d" }) { ${BACKUP_FIELDS} } }`,
          { id: shared },
        ),
    },
    common: backupCommon,
  },
  'verify a backup': {
    run: {
      v1: (u) => viaV1(u, 'POST', `/volume/backup/${shared}/action`, { verify: {} }),
      trpc: (u) => viaTrpc(u, (c) => c.volumeBackups.verify.mutate({ id: shared })),
      graphql: (u) =>
        viaGraphql(u, `mutation ($id: ID!) { verifyVolumeBackup(id: $id) { ${BACKUP_FIELDS} } }`, {
          id: shared,
        }),
    },
    common: backupCommon,
  },
  "reset a backup's status": {
    run: {
      v1: (u) =>
        viaV1(u, 'POST', `/volume/backup/${shared}/action`, { 'os-reset_status': { status: 'available' } }),
      trpc: (u) => viaTrpc(u, (c) => c.volumeBackups.resetStatus.mutate({ id: shared, status: 'available' })),
      graphql: (u) =>
        viaGraphql(
          u,
          `mutation ($id: ID!) { resetVolumeBackupStatus(id: $id, status: available) { ${BACKUP_FIELDS} } }`,
          {
            id: shared,
          },
        ),
    },
    common: backupCommon,
  },
  'restore a backup into a new volume': {
    run: {
      v1: (u) => viaV1(u, 'POST', '/volume', { volume: { backup_id: perDoor.restore.v1, name: 'restored' } }),
      trpc: (u) =>
        viaTrpc(u, (c) =>
          c.volumes.createFromBackup.mutate({ backupId: perDoor.restore.trpc, name: 'restored' }),
        ),
      graphql: (u) =>
        viaGraphql(
          u,
          'mutation ($b: ID!) { createVolumeFromBackup(input: { backupId: $b, name: "restored" }) { id name sizeGb } }',
          { b: perDoor.restore.graphql },
        ),
    },
    common: {
      v1: (v) => ({ name: v.volume.name, size: v.volume.size }),
      trpc: (v) => ({ name: v.name, size: v.sizeGb }),
      graphql: (v) => ({ name: v.name, size: v.sizeGb }),
    },
  },
  'delete a backup': {
    run: {
      v1: (u) => viaV1(u, 'DELETE', `/volume/backup/${perDoor.delete.v1}`),
      trpc: (u) => viaTrpc(u, (c) => c.volumeBackups.delete.mutate({ id: perDoor.delete.trpc })),
      graphql: (u) =>
        viaGraphql(u, 'mutation ($id: ID!) { deleteVolumeBackup(id: $id) { uuid status } }', {
          id: perDoor.delete.graphql,
        }),
    },
    common: {
      v1: (v) => ({ deleted: v.backup.id === perDoor.delete.v1 }),
      trpc: (v) => ({ deleted: v.id === perDoor.delete.trpc && v.status === 'deleting' }),
      graphql: (v) => ({ deleted: v.uuid === perDoor.delete.graphql && v.status === 'deleting' }),
    },
  },
  'roll a volume back to a snapshot': {
    run: {
      v1: (u) =>
        viaV1(u, 'POST', `/volume/${snapshotVolume}/action`, { rollback: { snapshot_id: snapshotId } }),
      trpc: (u) => viaTrpc(u, (c) => c.volumes.rollback.mutate({ volumeId: snapshotVolume, snapshotId })),
      graphql: (u) =>
        viaGraphql(
          u,
          'mutation ($v: String!, $s: String!) { rollbackVolume(volumeId: $v, snapshotId: $s) { volumeId snapshotId job { uuid kind } } }',
          { v: snapshotVolume, s: snapshotId },
        ),
    },
    common: {
      v1: (v) => ({
        volumeId: v.rollback.volume_id,
        snapshotId: v.rollback.snapshot_id,
        job: v.rollback.job_id,
      }),
      trpc: (v) => ({ volumeId: v.volumeId, snapshotId: v.snapshotId, job: v.jobId }),
      graphql: (v) => ({ volumeId: v.volumeId, snapshotId: v.snapshotId, job: v.job.uuid }),
    },
  },
  'snapshot an instance': {
    run: {
      v1: (u) =>
        viaV1(u, 'POST', '/instance/snapshot', { snapshot: { instance_id: serverId, name: 'taken' } }),
      trpc: (u) =>
        viaTrpc(u, (c) => c.instanceSnapshots.create.mutate({ instanceId: serverId, name: 'taken' })),
      graphql: (u) =>
        viaGraphql(
          u,
          `mutation ($i: String!) { createInstanceSnapshot(input: { instanceId: $i, name: "taken" }) { ${SNAPSHOT_FIELDS} } }`,
          { i: serverId },
        ),
    },
    common: {
      v1: (v) => ({ ...instanceArtifactFromV1(v.snapshot), id: undefined }),
      trpc: (v) => ({ ...instanceArtifactFromApi(v), id: undefined }),
      graphql: (v) => ({ ...instanceArtifactFromApi(v), id: undefined }),
    },
  },
  'show an instance backup': {
    run: {
      v1: (u) => viaV1(u, 'GET', `/instance/backup/${instanceBackup}`),
      trpc: (u) => viaTrpc(u, (c) => c.instanceBackups.get.query({ id: instanceBackup })),
      graphql: (u) =>
        viaGraphql(u, `query ($id: ID!) { instanceBackup(id: $id) { ${INSTANCE_BACKUP_FIELDS} } }`, {
          id: instanceBackup,
        }),
    },
    common: {
      v1: (v) => instanceArtifactFromV1(v.backup),
      trpc: instanceArtifactFromApi,
      graphql: instanceArtifactFromApi,
    },
  },
  'rename an instance backup': {
    run: {
      v1: (u) =>
        viaV1(u, 'POST', `/instance/backup/${instanceBackup}/action`, {
          update: { name: 'ib2', metadata: { x: 'y' } },
        }),
      trpc: (u) =>
        viaTrpc(u, (c) =>
          c.instanceBackups.update.mutate({ id: instanceBackup, name: 'ib2', metadata: { x: 'y' } }),
        ),
      graphql: (u) =>
        viaGraphql(
          u,
          `mutation ($id: ID!) { updateInstanceBackup(input: { id: $id, name: "ib2", metadata: { x: "y" } }) { ${INSTANCE_BACKUP_FIELDS} } }`,
          { id: instanceBackup },
        ),
    },
    common: {
      v1: (v) => instanceArtifactFromV1(v.backup),
      trpc: instanceArtifactFromApi,
      graphql: instanceArtifactFromApi,
    },
  },
  'delete an instance snapshot': {
    run: {
      v1: (u) => viaV1(u, 'DELETE', `/instance/snapshot/${perDoor.deleteSnapshot.v1}`),
      trpc: (u) => viaTrpc(u, (c) => c.instanceSnapshots.delete.mutate({ id: perDoor.deleteSnapshot.trpc })),
      graphql: (u) =>
        viaGraphql(u, 'mutation ($id: ID!) { deleteInstanceSnapshot(id: $id) { uuid status } }', {
          id: perDoor.deleteSnapshot.graphql,
        }),
    },
    common: {
      v1: (v) => ({ deleted: v.snapshot.id === perDoor.deleteSnapshot.v1 }),
      trpc: (v) => ({ deleted: v.id === perDoor.deleteSnapshot.trpc && v.status === 'deleting' }),
      graphql: (v) => ({ deleted: v.uuid === perDoor.deleteSnapshot.graphql && v.status === 'deleting' }),
    },
  },
};

/** A new backup: what the caller asked for, and that it is on its way. */
function made(b: ReturnType<typeof backupFromV1>) {
  return {
    name: b.name,
    volumeId: b.volumeId,
    status: b.status,
    isIncremental: b.isIncremental,
    metadata: b.metadata,
  };
}

// ── who may do what: the same answer at every door ──────────────────────────────────────────────

const OK = 'ok' as const;
const table: Array<[operation: keyof typeof operations, caller: Caller, expected: 'ok' | number]> = [
  ['show a backup', 'demo', OK],
  ['show a backup', 'reader', OK],
  ['show a backup', 'admin', OK],
  ['show a backup', 'alt_demo', 404],
  ['show a backup', 'anonymous', 401],
  ["list a volume's backups", 'demo', OK],
  ["list a volume's backups", 'alt_demo', OK],
  ["list a volume's backups", 'anonymous', 401],
  ["list every project's backups", 'admin', OK],
  ["list every project's backups", 'demo', 403],
  ["list every project's backups", 'reader', 403],
  ['back up a volume', 'demo', OK],
  ['back up a volume', 'reader', 403],
  ['back up a volume', 'alt_demo', 404],
  ['back up a volume', 'anonymous', 401],
  ['rename a backup', 'demo', OK],
  ['rename a backup', 'admin', OK],
  ['rename a backup', 'reader', 403],
  ['rename a backup', 'alt_demo', 404],
  ['verify a backup', 'demo', OK],
  ['verify a backup', 'reader', 403],
  ['verify a backup', 'alt_demo', 404],
  ["reset a backup's status", 'admin', OK],
  ["reset a backup's status", 'demo', 403],
  ["reset a backup's status", 'alt_demo', 403],
  ['restore a backup into a new volume', 'reader', 403],
  ['restore a backup into a new volume', 'alt_demo', 404],
  ['restore a backup into a new volume', 'demo', OK],
  ['delete a backup', 'reader', 403],
  ['delete a backup', 'alt_demo', 404],
  ['delete a backup', 'anonymous', 401],
  ['delete a backup', 'demo', OK],
  ['roll a volume back to a snapshot', 'reader', 403],
  ['roll a volume back to a snapshot', 'alt_demo', 404],
  ['roll a volume back to a snapshot', 'demo', OK],
  ['snapshot an instance', 'reader', 403],
  ['snapshot an instance', 'alt_demo', 404],
  ['snapshot an instance', 'anonymous', 401],
  ['snapshot an instance', 'demo', OK],
  ['show an instance backup', 'demo', OK],
  ['show an instance backup', 'reader', OK],
  ['show an instance backup', 'alt_demo', 404],
  ['rename an instance backup', 'demo', OK],
  ['rename an instance backup', 'reader', 403],
  ['rename an instance backup', 'alt_demo', 404],
  ['delete an instance snapshot', 'reader', 403],
  ['delete an instance snapshot', 'alt_demo', 404],
  ['delete an instance snapshot', 'demo', OK],
];

describe('three doors, one service', () => {
  it.each(table)('%s as %s: %s at every door', async (name, caller, expected) => {
    const operation = operations[name] as Operation;
    const answers: Partial<Record<Door, Outcome>> = {};
    for (const door of DOORS) {
      answers[door] = await operation.run[door](caller);
      await settle(name, answers[door] as Outcome);
    }
    const decisions = DOORS.map((door) => answers[door]?.decision);
    expect(decisions, JSON.stringify(answers)).toEqual([expected, expected, expected]);
    if (expected !== OK) return;
    const results = DOORS.map((door) => {
      const answer = answers[door] as { value: unknown };
      return operation.common ? operation.common[door](answer.value) : answer.value;
    });
    if (name === 'roll a volume back to a snapshot') {
      // Three requests, three jobs: the same volume and snapshot, each its own job.
      for (const result of results) expect(result).toMatchObject({ volumeId: snapshotVolume, snapshotId });
      return;
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});

/** Lets an accepted long operation finish before the next door asks for the same. */
async function settle(name: string, outcome: Outcome) {
  if (outcome.decision !== 'ok') return;
  const admin = clients.get('admin') as BackupClient;
  if (name === 'roll a volume back to a snapshot') {
    const value = outcome.value as any;
    const jobId = value.rollback?.job_id ?? value.jobId ?? value.job?.uuid;
    await waitFor(admin.jobs.get, { id: jobId }, { status: 'succeeded', timeoutMs: 60_000, intervalMs: 50 });
  }
  if (name === 'snapshot an instance') {
    const value = outcome.value as any;
    await waitForInstanceArtifact(stack, 'demo', 'snapshot', value.snapshot?.id ?? value.uuid ?? value.id);
  }
  if (name === 'back up a volume') {
    const value = outcome.value as any;
    const id = value.backup?.id ?? value.uuid ?? value.id;
    await waitForBackup(stack, 'demo', id);
  }
}
