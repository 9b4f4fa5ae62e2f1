import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port nobody listens on, below the kernel's ephemeral range: a port the kernel handed out with
 * listen(0) can be taken by any outgoing connection between our check and the listener's own bind
 * (EADDRINUSE in a busy parallel run); one below the range only by another listener. A caller that
 * binds later should still retry on EADDRINUSE with a fresh port. `except`: ports configured for
 * listeners that bind later (this process's own), which a port picked now must not be.
 */
export async function freePort(options: { except?: readonly number[] } = {}): Promise<number> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  const high = Math.min(ephemeralLow ?? 32768, 32768);
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (high - 10_000));
    if (options.except?.includes(port)) continue; // free now, but someone's already
    if (await canListen(port)) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
