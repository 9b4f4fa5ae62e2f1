import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';

// Acceptance 3: after changing 1% of a 1 GiB volume an incremental stores < 5% of the full backup;
// a never-written (sparse) volume stores almost nothing.

const MiB = 1024 * 1024;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function backup(volumeId: string) {
  const { status, body } = await stack.v1('demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId },
  });
  expect(status).toBe(201);
  return waitForBackup(stack, 'demo', body.backup.id, ['available'], 300_000);
}

/** The benchmark's dataset: 256 MiB random, 256 MiB repetitive text, 512 MiB never written. */
async function writeDataset(volumeId: string) {
  for (let offset = 0; offset < 256 * MiB; offset += 32 * MiB)
    await stack.cinder.write(volumeId, offset, randomBytes(32 * MiB));
  const line = Buffer.from('The quick brown fox jumps over the lazy dog; backups must restore every byte.\n');
  const text = Buffer.alloc(32 * MiB);
  for (let i = 0; i < text.length; i += line.length) line.copy(text, i);
  for (let offset = 256 * MiB; offset < 512 * MiB; offset += 32 * MiB)
    await stack.cinder.write(volumeId, offset, text);
}

describe('storage efficiency', () => {
  it('an incremental after a 1% change (40 random 256 KiB writes) stores under 5% of the full backup', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await writeDataset(volumeId);
    const full = await backup(volumeId);
    for (let i = 0; i < 40; i++) {
      await stack.cinder.write(volumeId, randomInt(0, 1024 * MiB - 256 * 1024), randomBytes(256 * 1024));
    }
    const incremental = await backup(volumeId);
    console.log(
      `full stored ${full.stored_bytes} bytes; incremental after 1% change stored ${incremental.stored_bytes} bytes (${((100 * incremental.stored_bytes) / full.stored_bytes).toFixed(2)}%)`,
    );
    expect(incremental.is_incremental).toBe(true);
    expect(incremental.stored_bytes).toBeLessThan(0.05 * full.stored_bytes);
    // The incremental is complete on its own.
    const { body } = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: incremental.id } });
    await stack.cinder.waitVolume('demo', body.volume.id, 'available', 300_000);
    expect(await stack.cinder.sha256(body.volume.id)).toBe(await stack.cinder.sha256(volumeId));
  }, 600_000); // S3/Swift on a shared 2-core machine: slower than a local disk

  it('a never-written volume stores almost nothing', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    const empty = await backup(volumeId);
    expect(empty.object_count).toBe(0);
    expect(empty.stored_bytes).toBeLessThan(4096);
  });
});
