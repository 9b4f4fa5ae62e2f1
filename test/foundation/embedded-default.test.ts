import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  freePort,
  killLeftoverServices,
  simulatorPorts,
  spawnService,
  waitUntilHealthy,
} from '../support/service-process.js';

// Acceptance 1 and 3 of the foundation: the embedded default starts, serves /healthz and /metrics,
// keeps its database across restarts, and survives kill -9 of the service.

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bs-embedded-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

function embeddedDatabaseUrl() {
  const [pid, , , port] = readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n');
  const password = readFileSync(path.join(dataDir, 'pg.password'), 'utf8').trim();
  return { pid: Number(pid), url: `postgresql://postgres:${password}@127.0.0.1:${port}/backup_service` };
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

function isRunning(pid: number) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

afterEach(killLeftoverServices);

describe('the embedded default', () => {
  it('starts, answers /healthz and /metrics, and keeps committed rows across kill -9 and restarts', async () => {
    const env: Record<string, string> = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      ...(await simulatorPorts()),
    };

    const first = spawnService(env);
    await waitUntilHealthy(first);
    const health = await fetch(`${first.url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
    const metrics = await fetch(`${first.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toMatch(/^# HELP process_cpu_user_seconds_total/m);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    expect(first.output()).toContain('using the embedded PostgreSQL (default)');
    // The reference gateway runs beside it (SPEC §3, §5.7).
    const gateway = `http://127.0.0.1:${env.GATEWAY_PORT}`;
    expect((await fetch(`${gateway}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway}/v1/block/volume`)).status).toBe(401);

    const { url, pid: firstPostgres } = embeddedDatabaseUrl();
    await query(
      url,
      `INSERT INTO "Repository" (id, url) VALUES ('committed-before-kill', 'file:///nowhere')`,
    );

    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    // The service died without stopping its PostgreSQL: the next start must deal with that server.
    expect(isRunning(firstPostgres)).toBe(true);

    const second = spawnService(env);
    await waitUntilHealthy(second);
    expect(second.output()).toContain('left by an earlier run');
    expect(isRunning(firstPostgres)).toBe(false);
    const afterKill = embeddedDatabaseUrl();
    expect(afterKill.pid).not.toBe(firstPostgres);
    const rows = await query<{ id: string }>(afterKill.url, `SELECT id FROM "Repository"`);
    expect(rows.map((r) => r.id)).toContain('committed-before-kill');
    expect(second.output()).toContain('database schema is up to date');

    // A graceful stop ends the process with 0 and takes its PostgreSQL down with it.
    second.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(isRunning(afterKill.pid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

    const third = spawnService(env);
    await waitUntilHealthy(third);
    const again = await query<{ id: string }>(embeddedDatabaseUrl().url, `SELECT id FROM "Repository"`);
    expect(again.map((r) => r.id)).toContain('committed-before-kill');
    third.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
  });

  it('refuses a second service on the same DATA_DIR instead of sharing its PostgreSQL', async () => {
    const env: Record<string, string> = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      ...(await simulatorPorts()),
    };
    const first = spawnService(env);
    await waitUntilHealthy(first);
    const second = spawnService({ ...env, PORT: String(await freePort()) });
    const { code } = await second.exited;
    expect(code).not.toBe(0);
    expect(second.output()).toContain(`DATA_DIR ${dataDir} is in use by another backup service process`);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });
});
