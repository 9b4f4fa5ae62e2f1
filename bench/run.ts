/**
 * `pnpm bench [--json] [--runs 3] [--modes embedded,postgres] [--no-peers] [--no-api] [--api-seconds 10]`
 *
 * The benchmark of issue 8, through the real service (API → jobs → file driver → filesystem
 * repository), side by side with restic and borg on the same bytes in the same run:
 *
 * - data plane: a 1 GiB volume (256 MiB random, 256 MiB repetitive text, 512 MiB never written) written
 *   through the simulator's data API; full backup, the 1% change (40 random 256 KiB writes),
 *   incremental backup, restore into a new volume — each timed from the API request until the
 *   resource is available; stored bytes; peak RSS of the service process. restic (repository v2,
 *   compression auto) and borg (`borg create -C lz4`) back up the same volume file before and after
 *   the same change; `restic restore` restores it.
 * - API: `GET /v1/volume/backup?limit=100` with 10,000 backups in PostgreSQL under wrk, and the Cinder
 *   passthrough `GET /v1/volume/<id>` against the same call straight to the simulated Cinder.
 *
 * Every figure is the median of `--runs`; ratios compare medians of the same run.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { startEphemeralPostgres } from '../packages/server/src/db/embedded-postgres.js';
import { seedBackups, type WrkResult, wrk } from './lib/api.js';
import { writeChangeSet, writeDataset } from './lib/dataset.js';
import { durableRestoreFloor } from './lib/disk-floor.js';
import { BenchClient } from './lib/openstack.js';
import { borg, type Peer, restic } from './lib/peers.js';
import { repositoryBackends } from './lib/repositories.js';
import { type CpuSeconds, cpuSince, repoRoot, startBenchService } from './lib/service.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'embedded,postgres' },
    'no-peers': { type: 'boolean', default: false },
    'no-api': { type: 'boolean', default: false },
    'api-seconds': { type: 'string', default: '10' },
    'size-mib': { type: 'string', default: '1024' },
    // Backup and restore throughput per repository backend (issue 10): file, and S3 when an S3
    // endpoint answers (S3_ENDPOINT, default the rig's RGW at http://127.0.0.1:7480).
    repositories: { type: 'string', default: 'auto' },
  },
});

const MiB = 1024 * 1024;
const sizeBytes = Number(args['size-mib']) * MiB;
const runs = Math.max(1, Number(args.runs));
const log = (line: string) => process.stderr.write(`${line}\n`);

interface DataRun {
  fullSeconds: number;
  fullSnapshotSeconds: number;
  /** Of fullSeconds: the job's read step (the data plane moving the data into the repository). */
  fullReadSeconds: number;
  fullStoredBytes: number;
  incrementalSeconds: number;
  incrementalSnapshotSeconds: number;
  incrementalReadSeconds: number;
  incrementalStoredBytes: number;
  restoreSeconds: number;
  /** CPU seconds of the service, the simulator and PostgreSQL during each operation. */
  fullCpu: CpuSeconds;
  incrementalCpu: CpuSeconds;
  restoreCpu: CpuSeconds;
  /** Of restoreSeconds: until the restore started writing (Cinder creating the new volume). */
  restoreWaitSeconds: number;
  /** The same restore with nothing in the page cache (a backup restored days later); absent if not root. */
  restoreColdSeconds?: number;
  /**
   * The least a durable restore could take here (bench/lib/disk-floor.ts): Cinder's wait or reading
   * this run's packs alone, whichever is longer (the service reads them while it waits), then writing
   * the data alone with fsync.
   */
  restoreFloorSeconds: number;
  byteIdentical: boolean;
}

interface PeerRun {
  fullSeconds: number;
  fullCpuSeconds: number;
  fullStoredBytes: number;
  incrementalSeconds: number;
  incrementalCpuSeconds: number;
  incrementalStoredBytes: number;
  restoreSeconds?: number;
  restoreCpuSeconds?: number;
  /** The restore followed by `sync`: its data on disk, as ours is when it reports the volume available. */
  restoreDurableSeconds?: number;
  /** The restore with nothing in the page cache. */
  restoreColdSeconds?: number;
}

interface ModeResult {
  mode: string;
  runs: DataRun[];
  peakRssMiB: number;
  peers: Record<string, PeerRun[]>;
  api?: { list: WrkResult; passthrough: WrkResult; direct: WrkResult };
  /** Peak RSS while wrk ran (sampled every 50 ms). */
  apiPeakRssMiB?: number;
}

/**
 * Every timed run starts with no dirty data of the run before it still being written back (`sync`):
 * otherwise whoever runs second pays for the disk writes of whoever ran first.
 */
const settleDisk = () => promisify(execFile)('sync');

/**
 * Syncs and empties the page cache, so that what follows reads from the disk, as a restore of a
 * backup made days ago does (ours and restic's alike). Needs root: returns why not otherwise.
 */
async function dropCaches(): Promise<string | null> {
  await settleDisk();
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3\n');
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function benchMode(mode: 'embedded' | 'postgres', withPeers: boolean): Promise<ModeResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `bench-${mode}-`));
  await chmod(dir, 0o755); // the embedded PostgreSQL runs as `postgres` and must reach DATA_DIR
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  let externalPg: Awaited<ReturnType<typeof startEphemeralPostgres>> | undefined;
  const env: Record<string, string> = {};
  if (mode === 'postgres') {
    // A PostgreSQL the service did not start, with production settings (fsync on).
    externalPg = await startEphemeralPostgres({});
    env.DATABASE_URL = externalPg.url;
  }
  const service = await startBenchService(dataDir, env);
  const client = new BenchClient(
    service.url,
    `http://127.0.0.1:${service.simPorts.keystone}`,
    `http://127.0.0.1:${service.simPorts.cinder}`,
  );
  await client.login('demo');
  const databaseUrl = externalPg?.url ?? (await embeddedDatabaseUrl(dataDir));
  const result: ModeResult = { mode, runs: [], peakRssMiB: 0, peers: {} };
  const peers: Peer[] = withPeers ? [restic(dir), borg(dir)] : [];
  try {
    for (let run = 1; run <= runs; run++) {
      log(`[${mode}] run ${run}/${runs}: writing the dataset`);
      const volumeId = await client.createVolume(Math.ceil(sizeBytes / (1024 * MiB)));
      await writeDataset(client, volumeId, sizeBytes, run);
      const volumeFile = path.join(dataDir, 'sim', 'volumes', `volume-${volumeId}`);

      await settleDisk();
      // Packs written from here on are this run's (the floor below reads them).
      const packsSince = Date.now() - 1000;
      let cpu = service.cpuSeconds();
      const full = await client.backup(volumeId);
      const fullCpu = cpuSince(cpu, service.cpuSeconds());
      const fullSteps = await backupStepSeconds(databaseUrl, full.id);
      log(
        `[${mode}] full backup ${full.seconds.toFixed(2)} s (of which Cinder's snapshot ${fullSteps.cinder.toFixed(2)} s, reading ${fullSteps.read.toFixed(2)} s), stored ${full.storedBytes}, CPU ${JSON.stringify(fullCpu)}`,
      );
      const peerRuns: Array<Partial<PeerRun>> = [];
      for (const peer of peers) {
        await peer.init();
        await settleDisk();
        const first = await peer.backup(volumeFile);
        peerRuns.push({
          fullSeconds: first.seconds,
          fullCpuSeconds: first.cpuSeconds,
          fullStoredBytes: first.storedBytes,
        });
        log(
          `[${mode}] ${peer.name} full ${first.seconds.toFixed(2)} s (CPU ${first.cpuSeconds} s), stored ${first.storedBytes}`,
        );
      }

      await writeChangeSet(client, volumeId, sizeBytes, 100 + run);
      await settleDisk();
      cpu = service.cpuSeconds();
      const incremental = await client.backup(volumeId);
      const incrementalCpu = cpuSince(cpu, service.cpuSeconds());
      const incrementalSteps = await backupStepSeconds(databaseUrl, incremental.id);
      log(
        `[${mode}] incremental ${incremental.seconds.toFixed(2)} s (of which Cinder's snapshot ${incrementalSteps.cinder.toFixed(2)} s, reading ${incrementalSteps.read.toFixed(2)} s), stored ${incremental.storedBytes}, CPU ${JSON.stringify(incrementalCpu)}`,
      );
      for (const [i, peer] of peers.entries()) {
        await settleDisk();
        const second = await peer.backup(volumeFile);
        Object.assign(peerRuns[i] as PeerRun, {
          incrementalSeconds: second.seconds,
          incrementalCpuSeconds: second.cpuSeconds,
          incrementalStoredBytes: second.storedBytes,
        });
        log(
          `[${mode}] ${peer.name} incremental ${second.seconds.toFixed(2)} s (CPU ${second.cpuSeconds} s), stored ${second.storedBytes}`,
        );
      }

      const wanted = await client.sha256(volumeId);
      await settleDisk();
      cpu = service.cpuSeconds();
      const restored = await client.restore(incremental.id);
      const restoreCpu = cpuSince(cpu, service.cpuSeconds());
      const byteIdentical = (await client.sha256(restored.volumeId)) === wanted;
      const restoreWaitSeconds = await restoreWaitedSeconds(databaseUrl, incremental.id, restored.startedAt);
      log(
        `[${mode}] restore ${restored.seconds.toFixed(2)} s (of which waiting for Cinder's new volume ${restoreWaitSeconds.toFixed(2)} s), byte-identical: ${byteIdentical}, CPU ${JSON.stringify(restoreCpu)}`,
      );
      await settleDisk();
      const floor = await durableRestoreFloor(
        volumeFile,
        path.join(dataDir, 'repository', 'packs'),
        packsSince,
        path.join(dir, 'floor-copy'),
      );
      await rm(path.join(dir, 'floor-copy'), { force: true });
      const restoreFloorSeconds = Math.max(restoreWaitSeconds, floor.readSeconds) + floor.writeSeconds;
      log(
        `[${mode}] floor of a durable restore: dd reading ${(floor.readBytes / MiB).toFixed(0)} MiB of packs ${floor.readSeconds.toFixed(2)} s (during Cinder's ${restoreWaitSeconds.toFixed(2)} s), then writing ${(floor.writtenBytes / MiB).toFixed(0)} MiB of data ${floor.writeSeconds.toFixed(2)} s, past the page cache, with fsync: ${restoreFloorSeconds.toFixed(2)} s`,
      );
      for (const [i, peer] of peers.entries()) {
        if (!peer.restore) continue;
        await settleDisk();
        const { seconds, cpuSeconds } = await peer.restore(path.join(dir, `${peer.name}-restore`));
        const started = performance.now();
        await settleDisk();
        const restoreDurableSeconds = seconds + (performance.now() - started) / 1000;
        Object.assign(peerRuns[i] as PeerRun, {
          restoreSeconds: seconds,
          restoreCpuSeconds: cpuSeconds,
          restoreDurableSeconds,
        });
        log(
          `[${mode}] ${peer.name} restore ${seconds.toFixed(2)} s (CPU ${cpuSeconds} s), with sync ${restoreDurableSeconds.toFixed(2)} s`,
        );
      }
      // The same restores from the disk: the backup's packs (written past the page cache, see the
      // data plane's direct-io.ts) and restic's repository are then read the same way.
      let restoreColdSeconds: number | undefined;
      const notCold = await dropCaches();
      if (notCold === null) {
        const cold = await client.restore(incremental.id);
        restoreColdSeconds = cold.seconds;
        const coldIdentical = (await client.sha256(cold.volumeId)) === wanted;
        await client.json(client.cinder(`/volumes/${cold.volumeId}`), 'DELETE').catch(() => {});
        log(
          `[${mode}] restore from a cold page cache ${cold.seconds.toFixed(2)} s, byte-identical: ${coldIdentical}`,
        );
        if (!coldIdentical) throw new Error('the cold restore is not byte-identical');
        for (const [i, peer] of peers.entries()) {
          if (!peer.restore) continue;
          await dropCaches();
          const { seconds } = await peer.restore(path.join(dir, `${peer.name}-restore`));
          Object.assign(peerRuns[i] as PeerRun, { restoreColdSeconds: seconds });
          log(`[${mode}] ${peer.name} restore from a cold page cache ${seconds.toFixed(2)} s`);
        }
      } else {
        log(`[${mode}] restores from a cold page cache not measured: ${notCold}`);
      }
      for (const [i, peer] of peers.entries()) {
        result.peers[peer.name] = [...(result.peers[peer.name] ?? []), peerRuns[i] as PeerRun];
      }
      result.runs.push({
        fullSeconds: full.seconds,
        fullCpu,
        incrementalCpu,
        restoreCpu,
        fullSnapshotSeconds: fullSteps.cinder,
        fullReadSeconds: fullSteps.read,
        fullStoredBytes: full.storedBytes,
        incrementalSeconds: incremental.seconds,
        incrementalSnapshotSeconds: incrementalSteps.cinder,
        incrementalReadSeconds: incrementalSteps.read,
        incrementalStoredBytes: incremental.storedBytes,
        restoreSeconds: restored.seconds,
        restoreWaitSeconds,
        ...(restoreColdSeconds === undefined ? {} : { restoreColdSeconds }),
        restoreFloorSeconds,
        byteIdentical,
      });
      // Free the disk for the next run (the simulator keeps volumes as files).
      await client.json(client.cinder(`/volumes/${restored.volumeId}`), 'DELETE').catch(() => {});
    }
    // The data plane's peak (the kernel's high-water mark covers the whole process life so far).
    result.peakRssMiB = service.peakRssMiB();
    service.phasePeakRssMiB();

    if (!args['no-api']) {
      log(`[${mode}] API: seeding 10,000 backups`);
      await seedBackups(databaseUrl, client.projectId, 10_000);
      service.phasePeakRssMiB(); // what follows is the API's peak, not the seeding's or the backups'
      const seconds = Number(args['api-seconds']);
      const list = await wrk(`${service.url}/v1/volume/backup?limit=100`, client.token, seconds);
      log(
        `[${mode}] GET /v1/volume/backup?limit=100: ${list.requestsPerSecond} req/s, p50 ${list.p50Ms} ms, p99 ${list.p99Ms} ms`,
      );
      const volumeId = await client.createVolume(1);
      // Latency added by the passthrough: one connection, so the medians are service times, not the
      // queueing of a saturated 2-core machine.
      const direct = await wrk(client.cinder(`/volumes/${volumeId}`), client.token, seconds, 1);
      const passthrough = await wrk(`${service.url}/v1/volume/${volumeId}`, client.token, seconds, 1);
      log(`[${mode}] passthrough p50 ${passthrough.p50Ms} ms vs direct ${direct.p50Ms} ms`);
      result.api = { list, passthrough, direct };
      result.apiPeakRssMiB = service.phasePeakRssMiB();
    }
  } finally {
    await service.stop();
    await externalPg?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}

/** The events of the jobs of one kind for a backup, oldest first. */
async function jobEvents(databaseUrl: string, backupId: string, kind: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ step: string; at: Date }>(
      `SELECT e.step, e."createdAt" AS at FROM "JobEvent" e JOIN "Job" j ON j.id = e."jobId"
       WHERE j."volumeBackupId" = $1 AND j.kind = $2 ORDER BY e.id`,
      [backupId, kind],
    );
    return rows.map((row) => ({ step: row.step, at: row.at.getTime() }));
  } finally {
    await client.end();
  }
}

/**
 * Where a backup's time went, from its job's steps: waiting for Cinder to make the point-in-time
 * snapshot (start → read) and to accept its deletion (cleanup → drop-snapshot; as in Cinder's own backups,
 * the deletion itself is waited for after the backup is available), and reading the data into the
 * repository (read → cleanup). The simulator, like Cinder, takes its time for snapshots (200 ms
 * transitions); restic and borg read a file and wait for nothing.
 */
async function backupStepSeconds(databaseUrl: string, backupId: string) {
  const events = await jobEvents(databaseUrl, backupId, 'volume_backup_create');
  const at = (step: string) => events.find((e) => e.step === step)?.at;
  const between = (from: number | undefined, to: number | undefined) =>
    from !== undefined && to !== undefined ? (to - from) / 1000 : 0;
  // drop-snapshot is recorded with the backup's becoming available.
  const [start, read, cleanup, available] = [events[0]?.at, at('read'), at('cleanup'), at('drop-snapshot')];
  return { cinder: between(start, read) + between(cleanup, available), read: between(read, cleanup) };
}

/**
 * How long a restore waited before writing: from the request until its job's `write` step (Cinder
 * creating the new volume, 200 ms transitions in the simulator). restic writes into a directory.
 */
async function restoreWaitedSeconds(databaseUrl: string, backupId: string, requestedAt: number) {
  const events = await jobEvents(databaseUrl, backupId, 'volume_backup_restore');
  const write = events.filter((e) => e.step === 'write').at(-1);
  return write ? (write.at - requestedAt) / 1000 : 0;
}

async function embeddedDatabaseUrl(dataDir: string) {
  const [, , , port] = (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n');
  const password = (await readFile(path.join(dataDir, 'pg.password'), 'utf8')).trim();
  return `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/backup_service`;
}

function medianCpu(values: CpuSeconds[]): CpuSeconds {
  return {
    service: median(values.map((v) => v.service)),
    simulator: median(values.map((v) => v.simulator)),
    postgres: median(values.map((v) => v.postgres)),
  };
}

const cpuText = (cpu: CpuSeconds) =>
  `${cpu.service.toFixed(2)} s service, ${cpu.postgres.toFixed(2)} s PostgreSQL, ${cpu.simulator.toFixed(2)} s simulator`;

function summarise(results: ModeResult[]) {
  const rows: Array<[string, string, string]> = [];
  const summary: Record<string, unknown> = { sizeBytes, runs, modes: {} as Record<string, unknown> };
  for (const result of results) {
    const m = (pick: (r: DataRun) => number) => median(result.runs.map(pick));
    const mOptional = (pick: (r: DataRun) => number | undefined) => {
      const values = result.runs.map(pick).filter((v): v is number => v !== undefined);
      return values.length ? median(values) : undefined;
    };
    const p = (name: string, pick: (r: PeerRun) => number | undefined) => {
      const values = (result.peers[name] ?? []).map(pick).filter((v): v is number => v !== undefined);
      return values.length ? median(values) : undefined;
    };
    const ours = {
      fullSeconds: m((r) => r.fullSeconds),
      fullSnapshotSeconds: m((r) => r.fullSnapshotSeconds),
      fullReadSeconds: m((r) => r.fullReadSeconds),
      fullStoredBytes: m((r) => r.fullStoredBytes),
      incrementalSeconds: m((r) => r.incrementalSeconds),
      incrementalSnapshotSeconds: m((r) => r.incrementalSnapshotSeconds),
      incrementalReadSeconds: m((r) => r.incrementalReadSeconds),
      incrementalStoredBytes: m((r) => r.incrementalStoredBytes),
      restoreSeconds: m((r) => r.restoreSeconds),
      restoreWaitSeconds: m((r) => r.restoreWaitSeconds),
      restoreColdSeconds: mOptional((r) => r.restoreColdSeconds),
      restoreFloorSeconds: m((r) => r.restoreFloorSeconds),
      fullCpu: medianCpu(result.runs.map((r) => r.fullCpu)),
      incrementalCpu: medianCpu(result.runs.map((r) => r.incrementalCpu)),
      restoreCpu: medianCpu(result.runs.map((r) => r.restoreCpu)),
      byteIdentical: result.runs.every((r) => r.byteIdentical),
      peakRssMiB: Math.round(result.peakRssMiB),
      apiPeakRssMiB: result.apiPeakRssMiB === undefined ? undefined : Math.round(result.apiPeakRssMiB),
    };
    const peers = {
      restic: {
        fullSeconds: p('restic', (r) => r.fullSeconds),
        fullCpuSeconds: p('restic', (r) => r.fullCpuSeconds),
        incrementalSeconds: p('restic', (r) => r.incrementalSeconds),
        incrementalCpuSeconds: p('restic', (r) => r.incrementalCpuSeconds),
        restoreCpuSeconds: p('restic', (r) => r.restoreCpuSeconds),
        incrementalStoredBytes: p('restic', (r) => r.incrementalStoredBytes),
        restoreSeconds: p('restic', (r) => r.restoreSeconds),
        restoreDurableSeconds: p('restic', (r) => r.restoreDurableSeconds),
        restoreColdSeconds: p('restic', (r) => r.restoreColdSeconds),
      },
      borg: {
        fullSeconds: p('borg', (r) => r.fullSeconds),
        fullCpuSeconds: p('borg', (r) => r.fullCpuSeconds),
        incrementalSeconds: p('borg', (r) => r.incrementalSeconds),
      },
    };
    const ratio = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b ? Number((a / b).toFixed(3)) : undefined;
    const ratios = {
      fullVsBorg: ratio(ours.fullSeconds, peers.borg.fullSeconds),
      fullVsRestic: ratio(ours.fullSeconds, peers.restic.fullSeconds),
      fullWithoutCinderSnapshotVsBorg: ratio(
        ours.fullSeconds - ours.fullSnapshotSeconds,
        peers.borg.fullSeconds,
      ),
      fullWithoutCinderSnapshotVsRestic: ratio(
        ours.fullSeconds - ours.fullSnapshotSeconds,
        peers.restic.fullSeconds,
      ),
      incrementalVsRestic: ratio(ours.incrementalSeconds, peers.restic.incrementalSeconds),
      incrementalWithoutCinderSnapshotVsRestic: ratio(
        ours.incrementalSeconds - ours.incrementalSnapshotSeconds,
        peers.restic.incrementalSeconds,
      ),
      incrementalStoredVsRestic: ratio(ours.incrementalStoredBytes, peers.restic.incrementalStoredBytes),
      restoreVsRestic: ratio(ours.restoreSeconds, peers.restic.restoreSeconds),
      restoreVsResticWithSync: ratio(ours.restoreSeconds, peers.restic.restoreDurableSeconds),
      restoreColdVsResticCold: ratio(ours.restoreColdSeconds, peers.restic.restoreColdSeconds),
      restoreWithoutCinderVsRestic: ratio(
        ours.restoreSeconds - ours.restoreWaitSeconds,
        peers.restic.restoreSeconds,
      ),
      /** The least a durable restore of this data could take here (restoreFloorSeconds), over restic's restore. */
      restoreFloorVsRestic: ratio(ours.restoreFloorSeconds, peers.restic.restoreSeconds),
    };
    const api = result.api && {
      listRequestsPerSecond: result.api.list.requestsPerSecond,
      listP50Ms: result.api.list.p50Ms,
      listP99Ms: result.api.list.p99Ms,
      passthroughP50Ms: result.api.passthrough.p50Ms,
      directP50Ms: result.api.direct.p50Ms,
      passthroughAddedP50Ms: Number((result.api.passthrough.p50Ms - result.api.direct.p50Ms).toFixed(3)),
      passthroughP99Ms: result.api.passthrough.p99Ms,
      directP99Ms: result.api.direct.p99Ms,
    };
    (summary.modes as Record<string, unknown>)[result.mode] = { ours, peers, ratios, api, raw: result };
    const f = (n: number | undefined, unit = 's') =>
      n === undefined ? '—' : `${n.toFixed(unit === 's' ? 2 : 0)} ${unit}`;
    const mib = (n: number | undefined) => (n === undefined ? '—' : `${(n / MiB).toFixed(1)} MiB`);
    const r = (n: number | undefined, target: string) =>
      n === undefined ? '—' : `${n.toFixed(3)} (target ${target})`;
    rows.push(
      [
        `[${result.mode}] full backup`,
        `${f(ours.fullSeconds)} (Cinder snapshot ${f(ours.fullSnapshotSeconds)}, reading ${f(ours.fullReadSeconds)})`,
        `borg ${f(peers.borg.fullSeconds)}, restic ${f(peers.restic.fullSeconds)}`,
      ],
      [
        '  ratio full / borg',
        r(ratios.fullVsBorg, '≤ 0.5'),
        `without the snapshot: ${r(ratios.fullWithoutCinderSnapshotVsBorg, '≤ 0.5')}`,
      ],
      [
        '  ratio full / restic',
        r(ratios.fullVsRestic, '≤ 0.25'),
        `without the snapshot: ${r(ratios.fullWithoutCinderSnapshotVsRestic, '≤ 0.25')}`,
      ],
      ['  stored, full', mib(ours.fullStoredBytes), ''],
      [
        '  CPU, full',
        cpuText(ours.fullCpu),
        `restic ${f(peers.restic.fullCpuSeconds)}, borg ${f(peers.borg.fullCpuSeconds)}`,
      ],
      [
        `[${result.mode}] incremental (1%)`,
        `${f(ours.incrementalSeconds)} (reading ${f(ours.incrementalReadSeconds)})`,
        `restic ${f(peers.restic.incrementalSeconds)}, borg ${f(peers.borg.incrementalSeconds)}`,
      ],
      [
        '  ratio incremental / restic',
        r(ratios.incrementalVsRestic, '≤ 0.1'),
        `without the snapshot (${f(ours.incrementalSnapshotSeconds)}): ${r(ratios.incrementalWithoutCinderSnapshotVsRestic, '≤ 0.1')}`,
      ],
      [
        '  stored, incremental',
        mib(ours.incrementalStoredBytes),
        `restic added ${mib(peers.restic.incrementalStoredBytes)}; ratio ${r(ratios.incrementalStoredVsRestic, '≤ 1')}`,
      ],
      ['  CPU, incremental', cpuText(ours.incrementalCpu), `restic ${f(peers.restic.incrementalCpuSeconds)}`],
      [
        `[${result.mode}] restore`,
        `${f(ours.restoreSeconds)} (waiting for Cinder's volume ${f(ours.restoreWaitSeconds)})`,
        `restic ${f(peers.restic.restoreSeconds)}, with sync ${f(peers.restic.restoreDurableSeconds)}`,
      ],
      [
        '  ratio restore / restic',
        r(ratios.restoreVsRestic, '≤ 0.5'),
        `without the wait: ${r(ratios.restoreWithoutCinderVsRestic, '≤ 0.5')}; vs restic + sync: ${r(ratios.restoreVsResticWithSync, '≤ 0.5')}`,
      ],
      [
        '  restore, cold page cache',
        `${f(ours.restoreColdSeconds)}; restic ${f(peers.restic.restoreColdSeconds)}`,
        `ratio ${r(ratios.restoreColdVsResticCold, '≤ 0.5')}`,
      ],
      ['  CPU, restore', cpuText(ours.restoreCpu), `restic ${f(peers.restic.restoreCpuSeconds)}`],
      [
        '  floor',
        `${f(ours.restoreFloorSeconds)}: Cinder's wait (packs read meanwhile), then the writes (dd, O_DIRECT)`,
        `floor / restic: ${r(ratios.restoreFloorVsRestic, '≤ 0.5')}`,
      ],
      ['  byte-identical', String(ours.byteIdentical), ''],
      [
        `[${result.mode}] service peak RSS`,
        `${ours.peakRssMiB} MiB (backups, restores)`,
        `${ours.apiPeakRssMiB ?? '—'} MiB under wrk; target < 512 MiB`,
      ],
    );
    if (api) {
      rows.push(
        [
          `[${result.mode}] GET /v1/volume/backup?limit=100`,
          `${api.listRequestsPerSecond.toFixed(0)} req/s`,
          `p50 ${api.listP50Ms} ms, p99 ${api.listP99Ms} ms (target ≥ 1000 req/s; 10,000 backups)`,
        ],
        [
          `[${result.mode}] passthrough GET /v1/volume/<id>`,
          `p50 ${api.passthroughP50Ms.toFixed(3)} ms`,
          `direct p50 ${api.directP50Ms} ms: +${api.passthroughAddedP50Ms} ms (target ≤ 1 ms)`,
        ],
      );
    }
  }
  const width = Math.max(...rows.map((row) => row[0].length));
  const table = rows.map(([a, b, c]) => `${a.padEnd(width)}  ${b.padEnd(44)}  ${c}`).join('\n');
  return { table, summary };
}

const modes = (args.modes ?? '').split(',').filter(Boolean) as Array<'embedded' | 'postgres'>;
const results: ModeResult[] = [];
for (const [i, mode] of modes.entries()) results.push(await benchMode(mode, !args['no-peers'] && i === 0));
// Peers do not depend on how the service stores its records: measured once, compared with every mode.
for (const result of results.slice(1)) result.peers = results[0]?.peers ?? {};
const { table, summary } = summarise(results);
const repositories = await repositoryBackends(args.repositories ?? 'auto', sizeBytes / MiB, runs, log);
(summary as Record<string, unknown>).repositories = repositories.rows;
const resultsDir = path.join(repoRoot, 'bench', 'results');
await mkdir(resultsDir, { recursive: true });
const file = path.join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
if (args.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
else
  process.stdout.write(
    `\n${table}\n\n${repositories.table}\n\n(medians of ${runs} run(s); JSON in ${path.relative(repoRoot, file)})\n`,
  );
