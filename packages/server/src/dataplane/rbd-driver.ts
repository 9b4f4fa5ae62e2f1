import type { ChildProcess } from 'node:child_process';
import type { pino } from 'pino';
import { normalizeExtents } from './extents.js';
import { collectExit, RbdCli, RbdCommandError, type RbdConnection } from './rbd-cli.js';
import { parseRbdDiff, RbdDiffFormatError, rbdDiff } from './rbd-diff.js';
import type { Extent, SnapshotReader, StorageDriver, VolumeWriter } from './types.js';

export interface RbdDriverOptions extends RbdConnection {
  /** The pool of Cinder's RBD backend (`rbd_pool`). */
  pool: string;
  logger?: pino.Logger;
  /** Limit for one metadata command (info, snap ls, diff, snap create/rename/rm). Default 10 minutes. */
  commandTimeoutMs?: number;
}

/** Cinder's RBD driver names (volume_name_template, snapshot_name_template). */
const volumeImage = (volumeId: string) => `volume-${safeId(volumeId)}`;
const snapshotName = (snapshotId: string) => `snapshot-${safeId(snapshotId)}`;

/**
 * The point in time a backup read, kept on the image as the base of the next incremental: named as
 * Cinder's own Ceph backup driver names its snapshots (`backup.<id>.snap.<timestamp>`,
 * cinder/backup/drivers/ceph.py `backup_snapshot_name_pattern`), because Cinder's RBD driver deletes
 * exactly those before it deletes a volume (`_delete_backup_snaps`): they never make a volume
 * undeletable.
 */
const BACKUP_POINT = /^backup\.([a-z0-9-]+?)\.snap\.(.+)$/;
const backupPointPrefix = (backupId: string) => `backup.${backupId}.snap.`;

interface RbdSnap {
  id: number;
  name: string;
  size: number;
  protected: string | boolean;
}

interface RbdDiffEntry {
  offset: number;
  length: number;
  exists: string | boolean;
}

const isTrue = (value: string | boolean) => value === true || value === 'true';

/**
 * The `rbd` storage driver (SPEC §6): volumes are RBD images `<pool>/volume-<id>` with Cinder's
 * snapshots as RBD snapshots `@snapshot-<id>`, all driven through the `rbd` CLI.
 * - reads: `rbd export-diff [--from-snap <base>] <image>@<snapshot> -`, parsed as it streams (the
 *   changed extents of an incremental; the allocated ones of a full read), never the whole image;
 * - incrementals: the base is the parent backup's point in time, kept as an RBD snapshot
 *   `backup.<backup id>.snap.<time>` (keepBackupPoint) or the parent's Cinder snapshot when it still
 *   exists; no base: a full read;
 * - restore: `rbd import-diff -` fed a diff stream of the backup's data (after one that discards the
 *   whole image, when it holds data);
 * - rollback: `rbd snap rollback`, and the image grown back when it was extended after the snapshot.
 * See the data plane README ("The rbd driver").
 */
export function createRbdStorageDriver(options: RbdDriverOptions): StorageDriver {
  const cli = new RbdCli(options);
  const timeoutMs = options.commandTimeoutMs ?? 10 * 60_000;
  const spec = (image: string, snap?: string) => `${options.pool}/${image}${snap ? `@${snap}` : ''}`;
  const info = (target: string) => cli.json<{ size: number }>(['info', target], { timeoutMs });
  const listSnaps = (image: string) => cli.json<RbdSnap[]>(['snap', 'ls', spec(image)], { timeoutMs });
  const log = options.logger;

  return {
    kind: 'rbd',

    async openSnapshot({ volumeId, snapshotId }) {
      const image = volumeImage(volumeId);
      const snap = snapshotName(snapshotId);
      const { size } = await info(spec(image, snap));
      return new RbdSnapshotReader(cli, {
        image,
        snap,
        spec: spec(image, snap),
        sizeBytes: size,
        timeoutMs,
        listSnaps,
      });
    },

    async openForRestore({ volumeId, sizeBytes }) {
      const image = volumeImage(volumeId);
      const target = spec(image);
      const { size } = await info(target);
      if (size < sizeBytes) {
        throw new Error(`image ${target} has ${size} bytes, the restore needs ${sizeBytes}`);
      }
      // Ranges the backup does not write must read as zeros: discard everything first when the image
      // holds data (one import-diff of a single zero record, finished before the data is written).
      const allocated = await cli.json<RbdDiffEntry[]>(['diff', target], { timeoutMs });
      if (allocated.length > 0) {
        await importDiff(cli, target, [rbdDiff.start(size), rbdDiff.zero(0, size), rbdDiff.end()]);
      }
      return RbdVolumeWriter.start(cli, target, size);
    },

    async rollback({ volumeId, snapshotId }) {
      const image = volumeImage(volumeId);
      const { size } = await info(spec(image));
      await cli.run(['snap', 'rollback', '--no-progress', spec(image, snapshotName(snapshotId))]);
      // A rollback gives the image the snapshot's size; Cinder's volume keeps its own (extended) size.
      const after = await info(spec(image));
      if (after.size < size) {
        await cli.run(['resize', '--no-progress', '--size', `${size}B`, spec(image)], { timeoutMs });
      }
    },

    async keepBackupPoint({ volumeId, snapshotId, backupId }) {
      if (!BACKUP_POINT.test(`${backupPointPrefix(backupId)}0`)) {
        log?.warn({ backupId }, 'rbd: backup id unusable in a snapshot name; the next backup reads in full');
        return;
      }
      const image = volumeImage(volumeId);
      let snaps: RbdSnap[];
      try {
        snaps = await listSnaps(image);
      } catch (error) {
        if (error instanceof RbdCommandError && error.notFound) return; // volume gone
        throw error;
      }
      let kept = snaps.find((s) => s.name.startsWith(backupPointPrefix(backupId)));
      if (!kept) {
        const source = snaps.find((s) => s.name === snapshotName(snapshotId));
        if (!source) return; // the Cinder snapshot is gone already: nothing to keep
        const name = `${backupPointPrefix(backupId)}${(Date.now() / 1000).toFixed(6)}`;
        // The Cinder snapshot's own RBD snapshot becomes the base: exactly the point in time the
        // backup read. Cinder then deletes the (temporary) Cinder snapshot without finding its RBD
        // snapshot, which its driver accepts ("does not exist in backend").
        await cli.run(['snap', 'rename', spec(image, source.name), spec(image, name)], { timeoutMs });
        kept = { ...source, name };
      }
      // Cinder protects its snapshots (for clones); a protected one would block the volume's deletion.
      if (isTrue(kept.protected)) {
        await cli.run(['snap', 'unprotect', spec(image, kept.name)], { timeoutMs });
      }
    },

    async releaseBackupPoints({ volumeId, backupIds }) {
      if (backupIds.length === 0) return;
      const ids = new Set(backupIds);
      const image = volumeImage(volumeId);
      let snaps: RbdSnap[];
      try {
        snaps = await listSnaps(image);
      } catch (error) {
        if (error instanceof RbdCommandError && error.notFound) return;
        throw error;
      }
      for (const snap of snaps) {
        const match = BACKUP_POINT.exec(snap.name);
        if (!match || !ids.has(match[1]!)) continue;
        try {
          if (isTrue(snap.protected))
            await cli.run(['snap', 'unprotect', spec(image, snap.name)], { timeoutMs });
          await cli.run(['snap', 'rm', '--no-progress', spec(image, snap.name)], { timeoutMs });
        } catch (error) {
          if (!(error instanceof RbdCommandError && error.notFound)) throw error;
        }
      }
    },
  };
}

interface ReadRequest {
  offset: number;
  end: number;
  target: Buffer;
  /** [offset, cursor) is settled (full reads: written or zeroed). */
  cursor: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A snapshot read through one `rbd export-diff` stream. Reads must come in increasing offsets (the
 * data plane's batches do); the stream is paused while no read wants its next bytes (pipe
 * back-pressure), so memory stays bounded.
 *
 * Full read (after dataExtents()): bytes not in the stream are zeros. Incremental (after
 * changedSince() found a base): only the changed extents are written into the targets — the rest of
 * a chunk comes from the parent backup (`readsChangedOnly`).
 */
class RbdSnapshotReader implements SnapshotReader {
  readonly sizeBytes: number;
  bytesRead = 0;
  private fromSnap: string | null = null;
  /** The extents announced to the data plane: every stream record must lie inside them. */
  private extents: Extent[] = [];
  private extentAt = 0;
  private queue: ReadRequest[] = [];
  private wake: (() => void) | null = null;
  private started = false;
  private ended = false;
  private closed = false;
  private failure: unknown = null;
  private child: ChildProcess | null = null;
  private lastEnd = 0;
  private pump: Promise<void> = Promise.resolve();

  constructor(
    private readonly cli: RbdCli,
    private readonly ref: {
      image: string;
      snap: string;
      spec: string;
      sizeBytes: number;
      timeoutMs: number;
      listSnaps(image: string): Promise<RbdSnap[]>;
    },
  ) {
    this.sizeBytes = ref.sizeBytes;
  }

  get readsChangedOnly(): boolean {
    return this.fromSnap !== null;
  }

  async changedSince(olderSnapshotId: string, olderBackupId?: string): Promise<Extent[] | null> {
    this.assertNotStarted();
    const snaps = await this.ref.listSnaps(this.ref.image);
    const end = snaps.find((s) => s.name === this.ref.snap);
    if (!end) return null;
    // The parent's point in time: its kept backup point, else its Cinder snapshot if it still exists.
    // Either must be older than the snapshot read now (a backup of an older snapshot reads in full).
    const candidates = [
      ...(olderBackupId ? snaps.filter((s) => s.name.startsWith(backupPointPrefix(olderBackupId))) : []),
      ...snaps.filter((s) => s.name === snapshotName(olderSnapshotId)),
    ];
    const base = candidates.find((s) => s.id < end.id);
    if (!base) return null;
    const entries = await this.cli.json<RbdDiffEntry[]>(['diff', '--from-snap', base.name, this.ref.spec], {
      timeoutMs: this.ref.timeoutMs,
    });
    // Both kinds change the data: written ranges and ranges that now read as zeros (discarded).
    this.fromSnap = base.name;
    this.extents = normalizeExtents(
      entries.map((e) => ({ offset: e.offset, length: e.length })),
      this.sizeBytes,
    );
    return this.extents.map((e) => ({ ...e }));
  }

  async dataExtents(): Promise<Extent[]> {
    this.assertNotStarted();
    const entries = await this.cli.json<RbdDiffEntry[]>(['diff', this.ref.spec], {
      timeoutMs: this.ref.timeoutMs,
    });
    this.fromSnap = null;
    this.extents = normalizeExtents(
      entries.filter((e) => isTrue(e.exists)).map((e) => ({ offset: e.offset, length: e.length })),
      this.sizeBytes,
    );
    return this.extents.map((e) => ({ ...e }));
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(length);
    await this.readInto(offset, buffer);
    return buffer;
  }

  readInto(offset: number, target: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (offset < this.lastEnd) {
      return Promise.reject(
        new Error(`rbd reader: reads must come in increasing offsets (${offset} < ${this.lastEnd})`),
      );
    }
    this.lastEnd = offset + target.length;
    return new Promise<void>((resolve, reject) => {
      const request: ReadRequest = {
        offset,
        end: offset + target.length,
        target,
        cursor: offset,
        resolve,
        reject,
      };
      if (this.ended) {
        this.settle(request);
        return;
      }
      this.queue.push(request);
      if (!this.started) this.start();
      this.wake?.();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.child?.kill('SIGKILL');
    this.fail(new Error('rbd reader closed'));
    await this.pump;
  }

  private assertNotStarted() {
    if (this.started) throw new Error('rbd reader: the extents were asked for after reading began');
  }

  private start() {
    this.started = true;
    const args = [
      'export-diff',
      '--no-progress',
      ...(this.fromSnap ? ['--from-snap', this.fromSnap] : []),
      this.ref.spec,
      '-',
    ];
    const child = this.cli.spawn(args);
    this.child = child;
    child.stdin?.end();
    const exited = collectExit(child, args);
    exited.catch(() => {});
    this.pump = this.consume(child, exited).catch((error: unknown) => {
      child.kill('SIGKILL');
      this.fail(error);
    });
  }

  private async consume(child: ChildProcess, exited: Promise<void>): Promise<void> {
    const self = this;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of child.stdout!) {
        self.bytesRead += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    let sawEnd = false;
    try {
      for await (const record of parseRbdDiff(counted())) {
        if (this.closed) return;
        if (record.type === 'data') await this.deliver(record.offset, record.data, false);
        else if (record.type === 'zero') {
          // Full reads: unwritten bytes are zeros anyway. Incremental: the range changed to zeros.
          if (this.fromSnap) await this.deliver(record.offset, record.length, true);
        } else if (record.type === 'size' && record.size !== this.sizeBytes) {
          throw new RbdDiffFormatError(
            `the diff stream says ${record.size} bytes, the snapshot has ${this.sizeBytes}`,
          );
        } else if (record.type === 'end') {
          sawEnd = true;
          break;
        }
      }
    } catch (error) {
      // A stream cut short is better explained by rbd's own message.
      await exited;
      throw error;
    }
    await exited;
    if (!sawEnd) throw new RbdDiffFormatError('the diff stream has no end record');
    this.ended = true;
    for (const request of this.queue.splice(0)) this.settle(request);
  }

  /** Writes `data` (or `length` zeros) at `offset` into the reads that cover it, in stream order. */
  private async deliver(offset: number, data: Buffer | number, zero: boolean): Promise<void> {
    const length = typeof data === 'number' ? data : data.length;
    this.checkAnnounced(offset, length);
    let pos = offset;
    const stop = offset + length;
    while (pos < stop) {
      const request = await this.requestAt(pos);
      if (!request) return; // closed
      if (pos < request.offset) {
        throw new Error(
          `rbd reader: the diff stream has data at ${pos} that no read asked for (next read at ${request.offset})`,
        );
      }
      const n = Math.min(stop - pos, request.end - pos);
      const at = pos - request.offset;
      if (!this.fromSnap && request.cursor < pos) request.target.fill(0, request.cursor - request.offset, at);
      if (zero || typeof data === 'number') request.target.fill(0, at, at + n);
      else data.copy(request.target, at, pos - offset, pos - offset + n);
      request.cursor = pos + n;
      pos += n;
      if (request.cursor >= request.end) {
        this.queue.shift();
        this.settle(request);
      }
    }
  }

  /** The first read not yet complete once the stream is at `pos` (earlier ones are settled); waits for one. */
  private async requestAt(pos: number): Promise<ReadRequest | null> {
    for (;;) {
      while (this.queue.length > 0 && this.queue[0]!.end <= pos) this.settle(this.queue.shift()!);
      if (this.closed) return null;
      const first = this.queue[0];
      if (first) return first;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }

  /** A stream record outside the extents given to the data plane would be lost: refuse it. */
  private checkAnnounced(offset: number, length: number) {
    while (this.extentAt < this.extents.length) {
      const e = this.extents[this.extentAt]!;
      if (e.offset + e.length > offset) break;
      this.extentAt++;
    }
    const e = this.extents[this.extentAt];
    if (!e || offset < e.offset || offset + length > e.offset + e.length) {
      throw new Error(
        `rbd reader: the diff stream has ${length} bytes at ${offset} outside the extents rbd diff listed`,
      );
    }
  }

  private settle(request: ReadRequest) {
    if (!this.fromSnap && request.cursor < request.end) {
      request.target.fill(0, request.cursor - request.offset, request.end - request.offset);
    }
    request.cursor = request.end;
    request.resolve();
  }

  private fail(error: unknown) {
    this.failure ??= error;
    for (const request of this.queue.splice(0)) request.reject(this.failure);
    this.wake?.();
  }
}

/**
 * A restore target: one `rbd import-diff - <image>` fed a diff stream as the data plane writes.
 * Writes may come in any order and concurrently; each becomes one `w` record. finish() sends the end
 * record and waits for import-diff to exit (it flushes the image before it does).
 */
class RbdVolumeWriter implements VolumeWriter {
  private chain: Promise<void> = Promise.resolve();
  private done = false;
  /** Rejects when import-diff fails (never resolves): raced against every write. */
  private readonly failed: Promise<never>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {
    this.failed = exited.then(
      () => new Promise<never>(() => {}),
      (error: unknown) => Promise.reject(error),
    );
    this.failed.catch(() => {});
    child.stdin?.on('error', () => {}); // EPIPE: reported through the exit status
  }

  static async start(cli: RbdCli, target: string, sizeBytes: number): Promise<RbdVolumeWriter> {
    const args = ['import-diff', '--no-progress', '-', target];
    const child = cli.spawn(args);
    child.stdout?.resume();
    const writer = new RbdVolumeWriter(child, collectExit(child, args));
    await writer.send([rbdDiff.start(sizeBytes)]);
    return writer;
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.writev(offset, [data]);
  }

  writev(offset: number, data: Buffer[]): Promise<void> {
    let length = 0;
    for (const piece of data) length += piece.length;
    if (length === 0) return Promise.resolve();
    return this.send([rbdDiff.write(offset, length), ...data]);
  }

  /**
   * Puts buffers on the pipe, in order with earlier calls; resolves once they are written to it
   * (the caller may reuse them then).
   */
  private send(buffers: Buffer[]): Promise<void> {
    const next = this.chain.then(async () => {
      const stdin = this.child.stdin!;
      const written = buffers.map(
        (buffer) =>
          new Promise<void>((resolve, reject) => {
            stdin.write(buffer, (error) => (error ? reject(error) : resolve()));
          }),
      );
      await Promise.race([Promise.all(written), this.failed]);
    });
    this.chain = next.catch(() => {});
    // When import-diff stops, its own message (in the exit error) explains a broken pipe best.
    return next.catch(async (error: unknown) => {
      await this.exited.catch((exitError: unknown) => {
        throw exitError;
      });
      throw error;
    });
  }

  async finish(): Promise<void> {
    await this.send([rbdDiff.end()]);
    this.done = true;
    this.child.stdin!.end();
    await this.exited;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.child.kill('SIGKILL');
    await this.exited.catch(() => {});
  }
}

/** Runs `rbd import-diff -` on a small stream given whole. */
async function importDiff(cli: RbdCli, target: string, stream: Buffer[]): Promise<void> {
  const args = ['import-diff', '--no-progress', '-', target];
  const child = cli.spawn(args);
  child.stdout?.resume();
  const exited = collectExit(child, args);
  child.stdin?.on('error', () => {}); // reported through the exit status
  child.stdin?.end(Buffer.concat(stream));
  await exited;
}

function safeId(id: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(id) || id === '.' || id === '..')
    throw new Error(`invalid id ${JSON.stringify(id)}`);
  return id;
}
