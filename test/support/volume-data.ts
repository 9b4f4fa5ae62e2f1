import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';

/**
 * What a guest does to its disks, for tests: bytes written at an offset, read back, and the sha256
 * of a whole volume or snapshot. Two implementations: the simulator's data API (`/_sim/…`) and Ceph
 * (the `rbd` CLI on the images Cinder's RBD driver made), independent of the service's own `rbd`
 * driver so that it can judge it.
 */
export interface VolumeData {
  write(volumeId: string, offset: number, data: Buffer): Promise<void>;
  /** Several writes at once (in order). */
  writeMany(volumeId: string, writes: Array<{ offset: number; data: Buffer }>): Promise<void>;
  read(volumeId: string, offset: number, length: number): Promise<Buffer>;
  sha256(volumeId: string): Promise<string>;
  snapshotSha256(volumeId: string, snapshotId: string): Promise<string>;
}

/** The simulator's data API on its Cinder port. */
export function simulatorVolumeData(cinderUrl: string): VolumeData {
  const api: VolumeData = {
    async writeMany(volumeId, writes) {
      for (const w of writes) await api.write(volumeId, w.offset, w.data);
    },
    async write(volumeId, offset, data) {
      const response = await fetch(`${cinderUrl}/_sim/volumes/${volumeId}/data?offset=${offset}`, {
        method: 'PUT',
        // A copy typed as the DOM's BodyInit wants it (the DOM lib is in the program).
        body: new Uint8Array(data),
        headers: { 'content-type': 'application/octet-stream' },
      });
      if (response.status >= 300) throw new Error(`write: ${response.status} ${await response.text()}`);
    },
    async read(volumeId, offset, length) {
      const response = await fetch(
        `${cinderUrl}/_sim/volumes/${volumeId}/data?offset=${offset}&length=${length}`,
      );
      if (response.status !== 200) throw new Error(`read: ${response.status} ${await response.text()}`);
      return Buffer.from(await response.arrayBuffer());
    },
    async sha256(volumeId) {
      const response = await fetch(`${cinderUrl}/_sim/volumes/${volumeId}/sha256`);
      return ((await response.json()) as { sha256: string }).sha256;
    },
    async snapshotSha256(_volumeId, snapshotId) {
      const response = await fetch(`${cinderUrl}/_sim/snapshots/${snapshotId}/sha256`);
      return ((await response.json()) as { sha256: string }).sha256;
    },
  };
  return api;
}

export interface CephAccess {
  pool: string;
  cephConf?: string;
  client?: string;
  keyring?: string;
}

/**
 * Ceph, where Cinder's RBD driver keeps volume `<id>` as image `<pool>/volume-<id>` and snapshot
 * `<id>` as `@snapshot-<id>`. Writes go through `rbd import-diff` (a diff stream of one record, as
 * ../shared/openstack-env/README.md advises); reads and digests through `rbd export`.
 */
export function cephVolumeData(access: CephAccess): VolumeData {
  const image = (volumeId: string) => `${access.pool}/volume-${volumeId}`;
  const rbd = (args: string[], options?: RbdRunOptions) => runRbd(access, args, options);

  const digest = async (spec: string) => {
    const hash = createHash('sha256');
    await rbd(['export', '--no-progress', spec, '-'], {
      onData: (chunk) => {
        hash.update(chunk);
        return undefined;
      },
    });
    return hash.digest('hex');
  };

  const writeMany: VolumeData['writeMany'] = async (volumeId, writes) => {
    // import-diff sets the image to the stream's size: give it the image's own.
    const { size } = JSON.parse((await rbd(['info', image(volumeId), '--format', 'json'])).toString()) as {
      size: number;
    };
    const stream: Buffer[] = [];
    const head = Buffer.alloc(12 + 9);
    head.write('rbd diff v1\n', 0, 'latin1');
    head.write('s', 12, 'latin1');
    head.writeBigUInt64LE(BigInt(size), 13);
    stream.push(head);
    for (const { offset, data } of writes) {
      if (offset + data.length > size) throw new Error(`write beyond the end of volume ${volumeId}`);
      const record = Buffer.alloc(17);
      record.write('w', 0, 'latin1');
      record.writeBigUInt64LE(BigInt(offset), 1);
      record.writeBigUInt64LE(BigInt(data.length), 9);
      stream.push(record, data);
    }
    stream.push(Buffer.from('e', 'latin1'));
    await rbd(['import-diff', '--no-progress', '-', image(volumeId)], { input: stream });
  };

  return {
    writeMany,
    write: (volumeId, offset, data) => writeMany(volumeId, [{ offset, data }]),
    async read(volumeId, offset, length) {
      const out = Buffer.alloc(length);
      let pos = 0;
      await rbd(['export', '--no-progress', image(volumeId), '-'], {
        onData: (chunk) => {
          const start = Math.max(offset, pos);
          const end = Math.min(offset + length, pos + chunk.length);
          if (end > start) chunk.copy(out, start - offset, start - pos, end - pos);
          pos += chunk.length;
          return pos < offset + length;
        },
      });
      if (pos < offset + length) throw new Error(`read beyond the end of volume ${volumeId} (${pos} bytes)`);
      return out;
    },
    sha256: (volumeId) => digest(image(volumeId)),
    snapshotSha256: (volumeId, snapshotId) => digest(`${image(volumeId)}@snapshot-${snapshotId}`),
  };
}

export interface RbdRunOptions {
  /** Written to its stdin. */
  input?: Buffer[];
  /** Each piece of its stdout (then not collected); return false to stop it early. */
  onData?: (chunk: Buffer) => boolean | undefined;
}

/** Runs the `rbd` CLI with the access's options; its stdout unless `onData` takes it. */
export function runRbd(access: CephAccess, args: string[], options: RbdRunOptions = {}): Promise<Buffer> {
  const common = [
    ...(access.cephConf ? ['--conf', access.cephConf] : []),
    ...(access.client ? ['--id', access.client] : []),
    ...(access.keyring ? ['--keyring', access.keyring] : []),
  ];
  return new Promise<Buffer>((resolve, reject) => {
    const child = spawn('rbd', [...common, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let stopped = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (stopped) return;
      if (options.onData) {
        if (options.onData(chunk) === false) {
          stopped = true;
          child.kill('SIGKILL');
        }
      } else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdin.on('error', () => {});
    for (const piece of options.input ?? []) child.stdin.write(piece);
    child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || stopped) resolve(Buffer.concat(out));
      else reject(new Error(`rbd ${args.join(' ')}: exit ${code}: ${err.trim().split('\n').pop()}`));
    });
  });
}
