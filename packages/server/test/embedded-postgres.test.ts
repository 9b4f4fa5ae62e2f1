import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { freePort } from '../src/free-port.js';

// A port found free can be taken before PostgreSQL binds it (another listener, a parallel test):
// the embedded server then tries another port, unless the caller chose the port.

let base: string;
let taken: Server;
let takenPort: number;
const accepted = new Set<Socket>();
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'bs-pg-port-'));
  await chmod(base, 0o755); // as root the server runs as `postgres`
  takenPort = await freePort();
  // Accepts and never answers: the client waiting for our server must not wait for this one.
  taken = createServer((socket) => accepted.add(socket));
  await new Promise<void>((resolve) => taken.listen(takenPort, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const socket of accepted) socket.destroy();
  await new Promise((resolve) => taken?.close(resolve));
  await rm(base, { recursive: true, force: true });
});

describe('the embedded PostgreSQL', () => {
  it('starts on another port when the one it picked is taken before the server binds it', async () => {
    const lines: string[] = [];
    const picks = [takenPort];
    const db = await startEmbeddedPostgres({
      dataDir: path.join(base, 'pg'),
      settings: { fsync: 'off' },
      pickPort: async () => picks.shift() ?? freePort(),
      log: (line) => lines.push(line),
    });
    try {
      const port = Number(new URL(db.url).port);
      expect(port).not.toBe(takenPort);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
      expect(lines).toContain(
        `embedded PostgreSQL: port ${takenPort} was taken before the server bound it; trying another`,
      );
    } finally {
      await db.stop();
    }
  });

  it('fails with the reason when the port the caller chose is taken', async () => {
    await expect(
      startEmbeddedPostgres({ dataDir: path.join(base, 'pg'), settings: { fsync: 'off' }, port: takenPort }),
    ).rejects.toThrow(/exited during start-up: .*Address already in use/);
  });
});
