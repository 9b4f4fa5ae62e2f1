import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** wrk with latency percentiles: `wrk --latency -t1 -c16 -d<s>s -H 'X-Auth-Token: …' <url>`. */
export async function wrk(url: string, token: string, seconds = 10, connections = 16): Promise<WrkResult> {
  const { stdout } = await run(
    'wrk',
    ['--latency', '-t1', `-c${connections}`, `-d${seconds}s`, '-H', `X-Auth-Token: ${token}`, url],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)/m.exec(stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  if (!rps || !p50 || !p99) throw new Error(`cannot read wrk's output:\n${stdout}`);
  const ms = (m: RegExpExecArray) => Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: ms(p50),
    p99Ms: ms(p99),
    errors:
      Number(non2xx?.[1] ?? 0) +
      (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/** Adds `count` available backups of the caller's project straight into the database. */
export async function seedBackups(databaseUrl: string, projectId: string, count: number) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>('SELECT id FROM "Repository" LIMIT 1');
    const repositoryId = rows[0]?.id;
    if (!repositoryId) throw new Error('no repository yet: run a backup first');
    await client.query(
      `INSERT INTO "VolumeBackup" (id, "projectId", "userId", name, "volumeId", status, "sizeGb", "repositoryId",
         "objectCount", "storedBytes", "logicalBytes", "isIncremental", metadata, "createdAt", "updatedAt")
       SELECT gen_random_uuid(), $1, 'bench', 'seeded-' || g, gen_random_uuid()::text, 'available', 1, $2,
         16, 1048576, 1048576, false, '{"seeded": "yes"}', now() - make_interval(secs => g), now()
       FROM generate_series(1, $3) AS g`,
      [projectId, repositoryId, count],
    );
    // What autovacuum does within a minute of such an insert: planner statistics for 10,000 new rows.
    await client.query('ANALYZE "VolumeBackup"');
  } finally {
    await client.end();
  }
}
