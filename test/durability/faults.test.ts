import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitFor } from '../support/stack.js';

// Issue 6, acceptance 3: with the simulator answering 20% of calls with 5xx and adding latency,
// 50 backups and 20 restores all end available (or error with a clear fail_reason), with no
// duplicate snapshots.

const MiB = 1024 * 1024;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { OPENSTACK_MAX_ATTEMPTS: '6', JOB_CONCURRENCY: '6' } });
});
afterAll(() => stack?.close());

/** Submits a request until the service accepts it: under faults the service itself may answer 502. */
async function submit(method: string, path: string, body: unknown) {
  for (let attempt = 1; ; attempt++) {
    const response = await stack.v1('demo', method, path, body);
    if (response.status < 500 || attempt === 20) return response;
  }
}

describe('OpenStack faults', () => {
  it('50 backups and 20 restores all settle while 20% of calls fail and latency is added', async () => {
    const volumes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = await stack.cinder.createVolume('demo', 1);
      await stack.cinder.write(id, 0, randomBytes(2 * MiB));
      volumes.push(id);
    }
    const shas = new Map(
      await Promise.all(volumes.map(async (v) => [v, await stack.cinder.sha256(v)] as const)),
    );
    for (const service of ['keystone', 'cinder', 'nova', 'glance'] as const) {
      await stack.sim.faults.set(service, { errorRate: 0.2, latencyMs: 30 });
    }
    try {
      const limit = pLimit(5);
      const backups = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          limit(async () => {
            const response = await submit('POST', '/volume/backup', {
              backup: { volume_id: volumes[i % volumes.length] },
            });
            expect(response.status, response.text).toBe(201);
            return { id: response.body.backup.id as string, volumeId: volumes[i % volumes.length] as string };
          }),
        ),
      );
      const settled = await waitFor(
        'the 50 backups to settle',
        async () => {
          const rows = await stack.db.prisma.volumeBackup.findMany({
            where: { id: { in: backups.map((b) => b.id) } },
          });
          return rows.every((r) => r.status === 'available' || r.status === 'error') ? rows : undefined;
        },
        600_000,
      );
      for (const row of settled.filter((r) => r.status === 'error'))
        expect(row.failReason).toMatch(/\w{10,}/);
      const good = backups.filter((b) => settled.find((r) => r.id === b.id)?.status === 'available');
      console.log(`${good.length} of 50 backups available under faults`);
      expect(good.length).toBeGreaterThanOrEqual(45);

      const restores = await Promise.all(
        good.slice(0, 20).map((backup) =>
          limit(async () => {
            const response = await submit('POST', '/volume', { volume: { backup_id: backup.id } });
            expect(response.status, response.text).toBe(201);
            return { volumeId: response.body.volume.id as string, expected: shas.get(backup.volumeId) };
          }),
        ),
      );
      const finished = await waitFor(
        'the 20 restores to settle',
        async () => {
          const states = await Promise.all(
            restores.map(async (r) => (await stack.cinder.volume('admin', r.volumeId))?.status),
          );
          return states.every((s) => s === 'available' || s === 'error_restoring') ? states : undefined;
        },
        600_000,
      );
      expect(finished.filter((s) => s === 'available').length).toBeGreaterThanOrEqual(18);
      for (const service of ['keystone', 'cinder', 'nova', 'glance'] as const)
        await stack.sim.faults.clear(service);
      for (const [i, restore] of restores.entries()) {
        if (finished[i] === 'available')
          expect(await stack.cinder.sha256(restore.volumeId)).toBe(restore.expected);
      }
      // No duplicate snapshots: one creation per backup's temporary snapshot.
      for (const backup of backups) {
        expect(stack.sim.stats.snapshotsCreated.get(`backup-service-${backup.id}`) ?? 0).toBeLessThanOrEqual(
          1,
        );
      }
    } finally {
      await stack.sim.faults.clear();
    }
  }, 900_000);
});
