import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenStackHttp, OpenStackHttpError, OpenStackUnavailableError } from '../src/openstack/http.js';

// OpenStack faults: 5xx, timeouts and dropped connections are retried with capped exponential
// backoff; 4xx are not; a POST is retried only when the caller says it is idempotent.

let server: Server;
let base: string;
const script = new Map<string, Array<'503' | '500' | '404' | 'drop' | 'slow' | '200'>>();
const hits = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const key = req.url ?? '';
    const n = hits.get(key) ?? 0;
    hits.set(key, n + 1);
    const plan = script.get(key) ?? [];
    const step = plan[Math.min(n, plan.length - 1)] ?? '200';
    if (step === 'drop') return req.socket.destroy();
    if (step === 'slow') return setTimeout(() => res.end('{}'), 2000);
    res.writeHead(Number(step), { 'content-type': 'application/json' });
    res.end(
      step === '200'
        ? '{"ok": true}'
        : JSON.stringify({ itemNotFound: { code: Number(step), message: `answer ${step}` } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

const client = () =>
  new OpenStackHttp('cinder', { timeoutMs: 500, maxAttempts: 4, initialBackoffMs: 10, maxBackoffMs: 50 });

describe('OpenStackHttp', () => {
  it('retries 5xx until success', async () => {
    script.set('/a', ['503', '500', '200']);
    const response = await client().send({ method: 'GET', url: `${base}/a` });
    expect(response.body).toEqual({ ok: true });
    expect(hits.get('/a')).toBe(3);
  });

  it('retries dropped connections and timeouts', async () => {
    script.set('/b', ['drop', 'slow', '200']);
    const response = await client().send({ method: 'GET', url: `${base}/b` });
    expect(response.status).toBe(200);
    expect(hits.get('/b')).toBe(3);
  });

  it('does not retry 4xx, and reports the fault message', async () => {
    script.set('/c', ['404']);
    const error = await client()
      .send({ method: 'GET', url: `${base}/c` })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenStackHttpError);
    expect(error.message).toContain('answer 404');
    expect(hits.get('/c')).toBe(1);
  });

  it('gives up after maxAttempts with an error naming the service', async () => {
    script.set('/d', ['503']);
    const error = await client()
      .send({ method: 'DELETE', url: `${base}/d` })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenStackHttpError);
    expect(error.message).toMatch(/^cinder answered 503 to DELETE/);
    expect(hits.get('/d')).toBe(4);
  });

  it('does not repeat a POST unless told it is idempotent', async () => {
    script.set('/e', ['drop', '200']);
    const error = await client()
      .send({ method: 'POST', url: `${base}/e`, json: {} })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenStackUnavailableError);
    expect(hits.get('/e')).toBe(1);
    script.set('/f', ['drop', '200']);
    const response = await client().send({ method: 'POST', url: `${base}/f`, json: {}, idempotent: true });
    expect(response.status).toBe(200);
    expect(hits.get('/f')).toBe(2);
  });

  it('a refused connection is "unreachable", a slow one "did not answer in time"', async () => {
    const refused = await new OpenStackHttp('nova', { timeoutMs: 300, maxAttempts: 1 })
      .send({ method: 'GET', url: 'http://127.0.0.1:1/x' })
      .catch((e) => e);
    expect(refused.message).toMatch(/^nova is unreachable/);
    script.set('/g', ['slow']);
    const slow = await new OpenStackHttp('nova', { timeoutMs: 300, maxAttempts: 1 })
      .send({ method: 'GET', url: `${base}/g` })
      .catch((e) => e);
    expect(slow.message).toMatch(/^nova did not answer in time/);
  });
});
