import { prng, randomData, repetitiveText } from '../../packages/server/src/dataplane/testing.js';
import type { BenchClient } from './openstack.js';

/**
 * The benchmark's 1 GiB volume, written through the simulator's data API as a guest would: 256 MiB
 * random, 256 MiB repetitive text (a 4 MiB block of log-like lines, repeated), 512 MiB never
 * written, interleaved in 32 stripes as the data plane's own benchmark lays it out.
 */
export async function writeDataset(client: BenchClient, volumeId: string, sizeBytes: number, seed = 1) {
  const stripe = sizeBytes / 32;
  const textAt = repetitiveText(seed + 1);
  let textPos = 0;
  for (let base = 0; base < sizeBytes; base += 4 * stripe) {
    await client.write(volumeId, base, randomData(stripe));
    await client.write(volumeId, base + stripe, textAt(textPos, stripe));
    textPos += stripe;
  }
}

/** The 1% change: 40 writes of 256 KiB of random bytes at random (seeded) offsets. */
export async function writeChangeSet(client: BenchClient, volumeId: string, sizeBytes: number, seed = 7) {
  const random = prng(seed);
  for (let i = 0; i < 40; i++) {
    const offset = Math.floor(random() * ((sizeBytes - 256 * 1024) / 4096)) * 4096;
    await client.write(volumeId, offset, randomData(256 * 1024));
  }
}
