import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type Replica, startCluster } from '../support/cluster.js';
import { waitFor } from '../support/stack.js';

// Issue 6, acceptance 2: three replicas on one PostgreSQL, 200 backup jobs queued: each runs exactly
// once (job table, Cinder's snapshot count), and killing one replica mid-run still completes all 200.

const BACKUPS = 200;
const VOLUMES = 25;
let cluster: Cluster;
let replicas: Replica[];

beforeAll(async () => {
  cluster = await startCluster({ JOB_LEASE_MS: '3000', JOB_CONCURRENCY: '4' });
  replicas = [];
  for (let i = 0; i < 3; i++) replicas.push(await cluster.startReplica());
}, 180_000);
afterAll(() => cluster?.close());

describe('three replicas', () => {
  it('run 200 backups exactly once each, also when one of them is killed mid-run', async () => {
    const volumes: string[] = [];
    for (let i = 0; i < VOLUMES; i++) {
      const id = await cluster.cinder.createVolume('demo', 1);
      await cluster.cinder.write(id, i * 1024 * 1024, randomBytes(256 * 1024));
      volumes.push(id);
    }
    // Requests go to any replica.
    const limit = pLimit(8);
    const ids = await Promise.all(
      Array.from({ length: BACKUPS }, (_, i) =>
        limit(async () => {
          const replica = replicas[i % replicas.length] as Replica;
          const { status, body } = await cluster.v1(replica, 'demo', 'POST', '/volume/backup', {
            backup: { volume_id: volumes[i % VOLUMES], name: `b${i}` },
          });
          if (status !== 201) {
            throw new Error(
              `POST /volume/backup on ${replica.name}: ${status} ${JSON.stringify(body)}\n${replica
                .output()
                .split('\n')
                .filter((l) => l.includes('"level":50'))
                .slice(-3)
                .join('\n')}`,
            );
          }
          return body.backup.id as string;
        }),
      ),
    );

    const available = () =>
      cluster.db.prisma.volumeBackup.count({ where: { id: { in: ids }, status: 'available' } });
    await waitFor(
      'a third of the backups',
      async () => ((await available()) >= BACKUPS / 3 ? true : undefined),
      300_000,
    );
    const victim = replicas[1] as Replica;
    victim.kill('SIGKILL');
    await victim.exited;

    await waitFor('all backups', async () => ((await available()) === BACKUPS ? true : undefined), 600_000);
    // Their jobs end once Cinder has removed the temporary snapshots (after the backups are available).
    await waitFor(
      'all backup jobs',
      async () =>
        (await cluster.db.prisma.job.count({
          where: {
            kind: 'volume_backup_create',
            volumeBackupId: { in: ids },
            status: { in: ['queued', 'running'] },
          },
        })) === 0
          ? true
          : undefined,
      120_000,
    );

    // The job table: every backup job succeeded once.
    const jobs = await cluster.db.prisma.job.findMany({
      where: { kind: 'volume_backup_create', volumeBackupId: { in: ids } },
      include: { events: { orderBy: { id: 'asc' } } },
    });
    expect(jobs).toHaveLength(BACKUPS);
    expect(jobs.every((job) => job.status === 'succeeded')).toBe(true);
    const workers = new Set(jobs.flatMap((job) => job.events.map((e) => e.worker)));
    expect(workers.size).toBeGreaterThanOrEqual(3);
    for (const job of jobs) {
      // One worker at a time: a job's events form one run per worker, never interleaved.
      const runs = job.events.map((e) => e.worker).filter((w, i, all) => i === 0 || all[i - 1] !== w);
      expect(new Set(runs).size, `job ${job.id} ran on ${runs.join(' → ')}`).toBe(runs.length);
    }
    const resumed = jobs.filter((job) => job.events.some((e) => e.message === 'resumed'));
    console.log(`${BACKUPS} backups on ${workers.size} workers; ${resumed.length} resumed after the kill`);

    // Cinder: one temporary snapshot made per backup, none left.
    for (const id of ids) expect(cluster.sim.stats.snapshotsCreated.get(`backup-service-${id}`), id).toBe(1);
    const { body } = await cluster.cinder.request('admin', 'GET', '/snapshots/detail?all_tenants=1');
    expect(
      (body.snapshots as Array<{ name: string }>).filter((s) => s.name?.startsWith('backup-service-')),
    ).toEqual([]);
  }, 900_000);
});
