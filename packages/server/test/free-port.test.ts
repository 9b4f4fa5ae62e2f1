import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort } from '../src/free-port.js';

// The embedded PostgreSQL picks its port before the service's listeners bind theirs: it once took the
// port configured for the gateway (EADDRINUSE at start-up, seen in the embedded-default test).

const listensOn = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

describe('freePort', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('never picks a port a later listener is configured to bind, even while it is free', async () => {
    expect(await listensOn(10_000)).toBe(true);
    // The first draw is the lowest port of the range (10000); later draws are random again.
    vi.spyOn(Math, 'random').mockReturnValueOnce(0);
    expect(await freePort()).toBe(10_000);
    vi.spyOn(Math, 'random').mockReturnValueOnce(0);
    const picked = await freePort({ except: [10_000] });
    expect(picked).not.toBe(10_000);
    expect(picked).toBeGreaterThanOrEqual(10_000);
  });
});
