import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng, randomData, sha256OfFile, textBytes } from '../../src/dataplane/testing.js';
import { createHarness, type Harness, MiB } from './support.js';

const SIZE = 24 * MiB;
const IDLE_MS = 150;

describe('an idle data plane', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ idleReleaseMs: IDLE_MS });
    await h.lab.createVolume('vol', SIZE);
    await h.lab.writeMany('vol', [
      { offset: 0, data: randomData(9 * MiB) },
      { offset: 12 * MiB, data: textBytes(9 * MiB, prng(3)) },
    ]);
    await h.lab.snapshot('vol', 's1');
  });
  afterAll(async () => {
    await h?.close();
  });

  const waitForRelease = async () => {
    for (let waited = 0; waited < 5_000; waited += 25) {
      const { pooledBufferBytes, workerThreads } = h.plane.resources();
      if (pooledBufferBytes === 0 && workerThreads === 0) return;
      await sleep(25);
    }
    throw new Error(`not released: ${JSON.stringify(h.plane.resources())}`);
  };

  it('keeps its buffers and threads while it works, and gives them back when idle', async () => {
    await h.backup({ volumeId: 'vol', snapshotId: 's1', backupId: 'b1' });
    expect(h.plane.resources().idleReleases).toBe(0);
    // Just after an operation: what the next one reuses is still there.
    expect(h.plane.resources().workerThreads).toBe(2);
    expect(h.plane.resources().pooledBufferBytes).toBeGreaterThanOrEqual(8 * MiB);
    await waitForRelease();
  });

  it('starts again after a release, byte for byte', async () => {
    await waitForRelease();
    const sha = await h.restore('b1', 'restored', SIZE);
    expect(sha).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));
    expect(h.plane.resources().workerThreads).toBe(2);
    await waitForRelease();
  });

  it('does not release while an operation runs, however long it takes', async () => {
    await waitForRelease();
    const releases = h.plane.resources().idleReleases;
    let sawWorking = false;
    // A verify, then at once a restore that outlasts the idle time several times over (its writes
    // are slowed), with another verify started and finished in the middle of it: neither the first
    // verify's idle timer nor the second one's end may release anything under the restore.
    expect((await h.plane.verify({ repository: h.repository, backupId: 'b1' })).ok).toBe(true);
    const target = await h.driver.openForRestore({ volumeId: 'slow', sizeBytes: SIZE });
    const write = target.write.bind(target);
    let writes = 0;
    let queue = Promise.resolve();
    target.write = (offset, data) => {
      // One slowed write after the other (the restore issues them in parallel).
      const turn = queue.then(async () => {
        await sleep(IDLE_MS);
        writes++;
        sawWorking ||= h.plane.resources().workerThreads === 2;
        await write(offset, data);
      });
      queue = turn.catch(() => {});
      return turn;
    };
    const slowRestore = h.plane
      .restore({ repository: h.repository, backupId: 'b1', target })
      .then(async () => {
        await target.finish();
        return sha256OfFile(h.lab.volumePath('slow'));
      });
    await sleep(IDLE_MS / 3);
    const verified = await h.plane.verify({ repository: h.repository, backupId: 'b1' });
    expect(verified.ok).toBe(true);
    await sleep(2 * IDLE_MS);
    expect(h.plane.resources()).toMatchObject({ workerThreads: 2, idleReleases: releases });
    expect(await slowRestore).toBe(await sha256OfFile(h.lab.snapshotPath('s1')));
    expect(sawWorking).toBe(true);
    expect(writes).toBeGreaterThanOrEqual(4); // so the restore outlasted the checks above
    await waitForRelease();
    expect(h.plane.resources().idleReleases).toBe(releases + 1);
  });
});
