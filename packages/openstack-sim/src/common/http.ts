import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthContext } from './auth.js';
import { ApiError } from './errors.js';
import type { FaultTable, ServiceName } from './faults.js';
import { requestId } from './ids.js';
import type { SimLogger } from './logger.js';
import type { Microversion } from './microversion.js';

/** What a handler answers; a handler that streams its own answer returns undefined. */
export interface Reply {
  status: number;
  /** JSON-serialised. */
  body?: unknown;
  /** Sent as is (with `contentType`). */
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

const JSON_LIMIT = 4 * 1024 * 1024;

export class RequestContext {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly requestId = requestId();
  /** Headers every answer to this request carries (request ids, microversion). */
  readonly responseHeaders: Record<string, string> = {};
  params: Record<string, string> = {};
  auth: AuthContext | undefined;
  mv: Microversion = { major: 0, minor: 0 };
  private bodyPromise: Promise<Buffer> | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** `http://host:port` of this service. */
    readonly baseUrl: string,
  ) {
    const url = new URL(req.url ?? '/', 'http://x');
    this.method = (req.method ?? 'GET').toUpperCase();
    // Trailing slashes are insignificant to the routes (`/v3/` is `/v3`).
    this.path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    this.query = url.searchParams;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }

  rawBody(limit = JSON_LIMIT): Promise<Buffer> {
    this.bodyPromise ??= new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      this.req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          reject(new ApiError(413, 'Request is too large.'));
          this.req.destroy();
          return;
        }
        chunks.push(c);
      });
      this.req.on('end', () => resolve(Buffer.concat(chunks)));
      this.req.on('error', reject);
    });
    return this.bodyPromise;
  }

  /** The JSON body; undefined when empty; 400 when not JSON. */
  async json(): Promise<unknown> {
    const buf = await this.rawBody();
    if (buf.length === 0) return undefined;
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch {
      throw new ApiError(400, 'Malformed request body');
    }
  }
}

export type Handler = (ctx: RequestContext) => Promise<Reply | undefined> | Reply | undefined;

interface Route {
  method: string;
  regex: RegExp;
  keys: string[];
  handler: Handler;
}

/** Method + path pattern (`/v3/volumes/:id`) routing. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const source = pattern
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          keys.push(seg.slice(1));
          return '([^/]+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, regex: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Record<string, string> } | 'method' | null {
    let pathMatched = false;
    for (const want of method === 'HEAD' ? ['HEAD', 'GET'] : [method]) {
      for (const r of this.routes) {
        const m = r.regex.exec(path);
        if (!m) continue;
        pathMatched = true;
        if (r.method !== want) continue;
        const params: Record<string, string> = {};
        r.keys.forEach((k, i) => {
          const raw = m[i + 1] ?? '';
          try {
            params[k] = decodeURIComponent(raw);
          } catch {
            params[k] = raw; // not percent-encoded properly: matched as is (and found by no one)
          }
        });
        return { handler: r.handler, params };
      }
    }
    return pathMatched ? 'method' : null;
  }
}

export interface ServiceHooks {
  name: ServiceName;
  router: Router;
  /** `/_sim/*` routes: never subject to faults. */
  simRouter: Router;
  /** The service's own error answer. */
  errorReply(ctx: RequestContext, status: number, message: string): Reply;
  /** Runs before routing (microversion negotiation, service-specific headers); may throw ApiError. */
  prepare?(ctx: RequestContext): void;
  /** Called after every request that may have changed state. */
  persist(): void;
}

/** Writes a Reply; HEAD and 204/304 get no body. */
export function send(ctx: RequestContext, reply: Reply): void {
  const { res } = ctx;
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...ctx.responseHeaders, ...reply.headers };
  let payload: Buffer | undefined;
  if (reply.body !== undefined) {
    payload = Buffer.from(JSON.stringify(reply.body));
    headers['content-type'] ??= 'application/json';
  } else if (reply.raw !== undefined) {
    payload = Buffer.isBuffer(reply.raw) ? reply.raw : Buffer.from(reply.raw);
    headers['content-type'] ??= reply.contentType ?? 'text/plain; charset=UTF-8';
  }
  const noBody = reply.status === 204 || reply.status === 304;
  if (!noBody) headers['content-length'] = String(payload?.length ?? 0);
  res.writeHead(reply.status, headers);
  res.end(ctx.method === 'HEAD' || noBody ? undefined : payload);
}

/**
 * One simulated service on one port. `setDown(true)` closes the listening socket (clients get
 * connection refused) and drops open connections; `setDown(false)` listens again on the same port.
 */
export class ServiceServer {
  private server: Server | undefined;
  private port = 0;
  private down = false;

  constructor(
    private readonly hooks: ServiceHooks,
    private readonly faults: FaultTable,
    private readonly logger: SimLogger,
    private readonly host: string,
  ) {}

  get baseUrl(): string {
    return `http://${this.host}:${this.port}`;
  }

  async listen(port: number): Promise<number> {
    // Idle keep-alive sockets live longer than any client pool's (undici: 4 s), so a client never
    // reuses one the server is closing at that moment (ECONNRESET on a non-retried POST). Clients
    // whose event loop stalls for seconds (tests hashing GiBs) are the usual victims.
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      this.handle(req, res).catch((err) => {
        this.logger.info({ err }, 'simulator request failed');
        if (!res.headersSent) res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this.port;
  }

  async setDown(down: boolean): Promise<void> {
    if (down === this.down) return;
    this.down = down;
    if (down) await this.stop();
    else await this.listen(this.port);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = new RequestContext(req, res, this.baseUrl);
    ctx.responseHeaders['x-openstack-request-id'] = ctx.requestId;
    const { hooks } = this;
    try {
      let router = hooks.router;
      if (ctx.path.startsWith('/_sim/')) {
        router = hooks.simRouter;
      } else {
        const spec = this.faults.get(hooks.name);
        if (spec.latencyMs) await sleep(spec.latencyMs);
        const decision = this.faults.decide(hooks.name);
        if (decision.kind === 'drop') {
          req.socket.destroy();
          return;
        }
        if (decision.kind === 'error') {
          send(ctx, hooks.errorReply(ctx, decision.status, 'Injected fault: the service is failing.'));
          return;
        }
        hooks.prepare?.(ctx);
      }
      const match = router.match(ctx.method, ctx.path);
      if (match === null) throw new ApiError(404, 'The resource could not be found.');
      if (match === 'method') throw new ApiError(405, 'The method is not allowed for the requested URL.');
      ctx.params = match.params;
      const reply = await match.handler(ctx);
      if (reply) send(ctx, reply);
    } catch (err) {
      if (err instanceof ApiError) {
        const reply = hooks.errorReply(ctx, err.status, err.message);
        send(ctx, { ...reply, headers: { ...reply.headers, ...err.headers } });
      } else {
        this.logger.info({ err, path: ctx.path }, 'simulator handler error');
        send(
          ctx,
          hooks.errorReply(
            ctx,
            500,
            'The server has either erred or is incapable of performing the requested operation.',
          ),
        );
      }
    } finally {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') hooks.persist();
      this.logger.debug(
        {
          service: hooks.name,
          method: ctx.method,
          path: ctx.path,
          status: res.statusCode,
          requestId: ctx.requestId,
        },
        'simulator request',
      );
    }
  }
}
