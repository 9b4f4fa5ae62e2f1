import { chmod, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEphemeralPostgres } from '../packages/server/src/db/embedded-postgres.js';
import { seedBackups, wrk } from './lib/api.js';
import { BenchClient } from './lib/openstack.js';
import { startBenchService } from './lib/service.js';

const dir = await mkdtemp(path.join(os.tmpdir(), 'prof-'));
await chmod(dir, 0o755);
await mkdir(path.join(dir, 'data'));
const pg = await startEphemeralPostgres({});
const prof = process.argv.includes('--prof');
const service = await startBenchService(
  path.join(dir, 'data'),
  { DATABASE_URL: pg.url },
  prof ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [],
);
const client = new BenchClient(
  service.url,
  `http://127.0.0.1:${service.simPorts.keystone}`,
  `http://127.0.0.1:${service.simPorts.cinder}`,
);
await client.login('demo');
const vol = await client.createVolume(1);
await client.backup(vol);
await seedBackups(pg.url, client.projectId, 10_000);
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const r = await fetch(`${service.url}/v1/volume/backup?limit=100`, {
    headers: { 'x-auth-token': client.token },
  });
  const b = await r.text();
  console.log('single', r.status, b.length, (performance.now() - t).toFixed(1), 'ms');
}
console.log('c16', await wrk(`${service.url}/v1/volume/backup?limit=100`, client.token, 5, 16));
console.log('c1', await wrk(`${service.url}/v1/volume/backup?limit=100`, client.token, 5, 1));
const direct = await wrk(client.cinder(`/volumes/${vol}`), client.token, 5, 1);
const pass = await wrk(`${service.url}/v1/volume/${vol}`, client.token, 5, 1);
console.log('direct c1', direct, 'pass c1', pass);
await service.stop();
await pg.stop();
