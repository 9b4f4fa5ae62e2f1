import { type ChildProcess, spawn } from 'node:child_process';

/** How the `rbd` command reaches the Ceph cluster. */
export interface RbdConnection {
  /** ceph.conf path (`--conf`); unset: Ceph's default search (/etc/ceph/ceph.conf, $CEPH_CONF). */
  cephConf?: string;
  /** Client id (`--id`, e.g. `cinder` for client.cinder); unset: admin. */
  client?: string;
  /** Keyring path (`--keyring`); unset: Ceph's default (/etc/ceph/ceph.client.<id>.keyring). */
  keyring?: string;
  /** The rbd executable. Default `rbd` (from the PATH). */
  command?: string;
}

/** `rbd` exited with an error. */
export class RbdCommandError extends Error {
  override readonly name = 'RbdCommandError';
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `rbd ${args.join(' ')} failed (${exitCode === null ? 'killed' : `exit ${exitCode}`}): ${lastLine(stderr)}`,
    );
  }

  /** The image or snapshot does not exist (ENOENT). */
  get notFound(): boolean {
    return /\(2\) No such file or directory/.test(this.stderr);
  }
}

/** Longest stderr kept (the end of it). */
const STDERR_KEEP = 8192;

/** Runs `rbd` with the connection's options; every call is one process (the CLI, as SPEC §6 says). */
export class RbdCli {
  constructor(private readonly connection: RbdConnection = {}) {}

  private common(): string[] {
    const { cephConf, client, keyring } = this.connection;
    return [
      ...(cephConf ? ['--conf', cephConf] : []),
      ...(client ? ['--id', client] : []),
      ...(keyring ? ['--keyring', keyring] : []),
    ];
  }

  /** A running `rbd` with piped stdio; the caller owns it (see `collectExit`). */
  spawn(args: readonly string[]): ChildProcess {
    return spawn(this.connection.command ?? 'rbd', [...this.common(), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  /** Runs to completion; stdout as text. Rejects with RbdCommandError on a non-zero exit. */
  async run(
    args: readonly string[],
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    const child = this.spawn(args);
    child.stdin?.end();
    const out: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await collectExit(child, args);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    return Buffer.concat(out).toString('utf8');
  }

  async json<T>(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<T> {
    const text = await this.run([...args, '--format', 'json'], options);
    return JSON.parse(text) as T;
  }
}

/** Resolves when the process exits 0; rejects with RbdCommandError (and the end of its stderr) otherwise. */
export function collectExit(child: ChildProcess, args: readonly string[]): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP);
  });
  return new Promise((resolve, reject) => {
    child.once('error', (error) => reject(new RbdCommandError(args, null, `${error.message}\n${stderr}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new RbdCommandError(args, code, signal ? `killed by ${signal}\n${stderr}` : stderr));
    });
  });
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    // librbd's own timestamped debug lines say less than rbd's "rbd: …" message.
    .filter((l) => l && !/^\d{4}-\d\d-\d\dT/.test(l));
  return lines.find((l) => l.startsWith('rbd:')) ?? lines[lines.length - 1] ?? 'no message';
}
