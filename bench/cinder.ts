/**
 * `pnpm bench:cinder [--runs 5]`: how long a real Cinder takes for what a backup and a restore wait
 * on — a snapshot made (create → available) and deleted (delete → gone), and a new 1 GiB volume
 * (create → available). Against the rig of ../shared/openstack-env (or any cloud: OS_AUTH_URL,
 * OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME). The simulator takes 200 ms per transition; this says
 * what the real thing adds to `pnpm bench`'s figures, which restic and borg never wait for.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { keystoneLogin } from './lib/openstack.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Math.max(1, Number(args.runs));
const authUrl = process.env.OS_AUTH_URL ?? 'http://127.0.0.1:5000/v3';
const user = process.env.OS_USERNAME ?? 'demo';

const { token, catalog } = await keystoneLogin(
  authUrl,
  user,
  process.env.OS_PASSWORD ?? user,
  process.env.OS_PROJECT_NAME ?? user,
);
const cinder = catalog
  .find((s) => s.type === 'block-storage' || s.type === 'volumev3')
  ?.endpoints.find((e) => e.interface === 'public')?.url;
if (!cinder) throw new Error('no block-storage endpoint in the catalog');

async function call(path: string, method = 'GET', body?: unknown) {
  const r = await fetch(`${cinder}${path}`, {
    method,
    headers: { 'x-auth-token': token, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  if (r.status >= 400 && !(method === 'GET' && r.status === 404))
    throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** Seconds until `done()` holds, polled every 10 ms (Cinder's own transition, not our polling, dominates). */
async function secondsUntil(done: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + 120_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('no transition in 120 s');
    await sleep(10);
  }
  return (performance.now() - started) / 1000;
}

const statusOf = async (path: string, key: 'volume' | 'snapshot') => {
  const { status, body } = await call(path);
  if (status === 404) return 'gone';
  const value = body[key].status as string;
  if (value.startsWith('error')) throw new Error(`${path}: ${value}`);
  return value;
};

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const volumeCreate: number[] = [];
const snapshotCreate: number[] = [];
const snapshotDelete: number[] = [];
let volumeId: string | undefined;
try {
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const { body } = await call('/volumes', 'POST', { volume: { size: 1, name: `bench-cinder-${i}` } });
    await secondsUntil(async () => (await statusOf(`/volumes/${body.volume.id}`, 'volume')) === 'available');
    volumeCreate.push((performance.now() - started) / 1000);
    if (volumeId) await call(`/volumes/${body.volume.id}`, 'DELETE');
    else volumeId = body.volume.id as string;
  }
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const { body } = await call('/snapshots', 'POST', {
      snapshot: { volume_id: volumeId, name: `bench-cinder-${i}`, force: true },
    });
    const path = `/snapshots/${body.snapshot.id}`;
    await secondsUntil(async () => (await statusOf(path, 'snapshot')) === 'available');
    snapshotCreate.push((performance.now() - started) / 1000);
    await call(path, 'DELETE');
    snapshotDelete.push(await secondsUntil(async () => (await statusOf(path, 'snapshot')) === 'gone'));
  }
} finally {
  if (volumeId) await call(`/volumes/${volumeId}`, 'DELETE').catch(() => {});
}
const s = (values: number[]) =>
  `${median(values).toFixed(2)} s (${values.map((v) => v.toFixed(2)).join(', ')})`;
process.stdout.write(
  `Cinder at ${cinder}, medians of ${runs}:\n` +
    `  snapshot create → available  ${s(snapshotCreate)}\n` +
    `  snapshot delete → gone       ${s(snapshotDelete)}\n` +
    `  1 GiB volume create → available  ${s(volumeCreate)}\n` +
    // The deletion is asked for before the backup is available and waited for after (as in Cinder).
    `  a backup waits for the snapshot's creation: ${median(snapshotCreate).toFixed(2)} s; its job, for both: ${(median(snapshotCreate) + median(snapshotDelete)).toFixed(2)} s\n`,
);
