import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../support/stack.js';

// Acceptance 6: what the service does not handle under /v1/volume reaches Cinder and comes back
// unchanged; a stopped Cinder gives 502 with an error body. The first block runs against the
// simulator and against real Cinder (pnpm test:openstack).

describe('Cinder passthrough against Cinder', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it("POST /volume without backup_id creates a Cinder volume: Cinder's status and body", async () => {
    const { status, body, headers } = await stack.v1('demo', 'POST', '/volume', {
      volume: { size: 1, name: 'via-passthrough' },
    });
    expect(status).toBe(202);
    expect(body.volume).toMatchObject({ size: 1, name: 'via-passthrough', status: 'creating' });
    expect(headers.get('x-openstack-request-id')).toMatch(/^req-/);
    const direct = await stack.cinder.request('demo', 'GET', `/volumes/${body.volume.id}`);
    expect(direct.status).toBe(200);
    await stack.cinder.waitVolume('demo', body.volume.id, 'available');
  });

  it('GET /volume/<id> answers exactly what Cinder answers', async () => {
    const id = await stack.cinder.createVolume('demo', 1, 'shown');
    const viaService = await stack.v1('demo', 'GET', `/volume/${id}`);
    const direct = await stack.cinder.request('demo', 'GET', `/volumes/${id}`);
    expect(viaService.status).toBe(direct.status);
    expect(viaService.body).toEqual(direct.body);
    expect(viaService.headers.get('content-type')).toBe(direct.headers.get('content-type'));
    const missing = await stack.v1('demo', 'GET', '/volume/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.itemNotFound.message).toMatch(/could not be found/);
  });

  it('POST /volume/<id>/action os-extend reaches Cinder (202) and the volume grows', async () => {
    const id = await stack.cinder.createVolume('demo', 1);
    const { status, text } = await stack.v1('demo', 'POST', `/volume/${id}/action`, {
      'os-extend': { new_size: 2 },
    });
    expect(status).toBe(202);
    expect(text).toBe('');
    await expect.poll(async () => (await stack.cinder.volume('demo', id)).size, { timeout: 30_000 }).toBe(2);
  });

  it('DELETE /volume/<id> reaches Cinder (202, empty) and the volume goes away', async () => {
    const id = await stack.cinder.createVolume('demo', 1, 'doomed');
    const { status, text } = await stack.v1('demo', 'DELETE', `/volume/${id}`);
    expect(status).toBe(202);
    expect(text).toBe('');
    await expect
      .poll(async () => (await stack.cinder.request('demo', 'GET', `/volumes/${id}`)).status, {
        timeout: 60_000,
      })
      .toBe(404);
    const again = await stack.v1('demo', 'DELETE', `/volume/${id}`);
    expect(again.status).toBe(404);
    expect(again.body).toEqual((await stack.cinder.request('demo', 'DELETE', `/volumes/${id}`)).body);
  });

  it('lists and query strings pass through (GET /volume/detail?limit=1)', async () => {
    const viaService = await stack.v1('demo', 'GET', '/volume/detail?limit=1');
    const direct = await stack.cinder.request('demo', 'GET', '/volumes/detail?limit=1');
    expect(viaService.status).toBe(200);
    expect(viaService.body.volumes.map((v: { id: string }) => v.id)).toEqual(
      direct.body.volumes.map((v: { id: string }) => v.id),
    );
    expect(viaService.body.volumes_links?.[0]?.rel).toBe('next');
  });

  it("refuses paths that would leave Cinder's volumes API", async () => {
    // Raw requests: fetch() would normalise the dot segments before sending them.
    const token = await stack.token('demo');
    for (const sneaky of [
      '/v1/volume/..%2F..%2Fsnapshots',
      '/v1/volume/%2e%2e/snapshots',
      '/v1/volume/x/..%2f..%2f..%2fadmin',
      '/v1/volume/../snapshots',
    ]) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${stack.url}${sneaky}`, { headers: { 'x-auth-token': token } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.path = sneaky;
        req.on('error', reject);
        req.end();
      });
      expect([400, 404], sneaky).toContain(status);
      expect(status, sneaky).not.toBe(200);
    }
  });
});

describe('Cinder passthrough against a recording upstream', () => {
  let stack: Stack;
  let upstream: Server;
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }> = [];
  let delayMs = 0;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
        });
        setTimeout(() => {
          if (req.url?.includes('/big')) {
            res.writeHead(200, {
              'content-type': 'application/octet-stream',
              'x-openstack-request-id': 'req-upstream-big',
            });
            const block = Buffer.alloc(1024 * 1024, 7);
            for (let i = 0; i < 20; i++) res.write(block);
            res.end();
            return;
          }
          res.writeHead(299, {
            'content-type': 'application/json',
            'x-openstack-request-id': 'req-11111111-2222-3333-4444-555555555555',
            'openstack-api-version': 'volume 3.50',
            vary: 'OpenStack-API-Version',
            'x-custom': 'kept',
            connection: 'close',
          });
          res.end(JSON.stringify({ echoed: true }));
        }, delayMs);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    stack = await startStack({
      env: { CINDER_URL: `http://127.0.0.1:${port}/v3/%(project_id)s`, OPENSTACK_TIMEOUT_MS: '1000' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    upstream?.close();
  });

  it('forwards method, path, query, body and the allowed headers; relays status, headers and body', async () => {
    seen.length = 0;
    const token = await stack.token('demo');
    const response = await fetch(`${stack.url}/v1/volume/abc/metadata?x=1&y=2`, {
      method: 'PUT',
      headers: {
        'x-auth-token': token,
        'openstack-api-version': 'volume 3.50',
        'content-type': 'application/json',
        accept: 'application/json',
        'x-openstack-request-id': 'req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
        'x-not-for-cinder': 'secret',
      },
      body: '{"metadata": {"a": "b"}}',
    });
    expect(response.status).toBe(299);
    expect(await response.json()).toEqual({ echoed: true });
    expect(response.headers.get('x-openstack-request-id')).toBe('req-11111111-2222-3333-4444-555555555555');
    expect(response.headers.get('openstack-api-version')).toBe('volume 3.50');
    expect(response.headers.get('vary')).toBe('OpenStack-API-Version');
    expect(response.headers.get('x-custom')).toBe('kept');
    const [request] = seen;
    expect(request?.method).toBe('PUT');
    expect(request?.url).toBe(`/v3/${await stack.openstack.projectId('demo')}/volumes/abc/metadata?x=1&y=2`);
    expect(request?.body.toString()).toBe('{"metadata": {"a": "b"}}');
    expect(request?.headers['x-auth-token']).toBe(token);
    expect(request?.headers['openstack-api-version']).toBe('volume 3.50');
    expect(request?.headers['x-openstack-request-id']).toBe('req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
    expect(request?.headers['x-not-for-cinder']).toBeUndefined();
  });

  it('streams a large answer through unchanged', async () => {
    const response = await fetch(`${stack.url}/v1/volume/big`, {
      headers: { 'x-auth-token': await stack.token('demo') },
    });
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.length).toBe(20 * 1024 * 1024);
    expect(body.every((b) => b === 7)).toBe(true);
  });

  it('a stopped Cinder gives 502 with an error body, and recovers', async () => {
    const port = (upstream.address() as AddressInfo).port;
    const closed = new Promise<void>((resolve) => upstream.close(() => resolve()));
    upstream.closeAllConnections();
    await closed;
    try {
      const { status, body } = await stack.v1('demo', 'GET', '/volume/detail');
      expect(status).toBe(502);
      expect(body.computeFault.code).toBe(502);
      expect(body.computeFault.message).toMatch(/^Cinder is unreachable/);
    } finally {
      await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    }
    expect((await stack.v1('demo', 'GET', '/volume/detail')).status).toBe(299);
  });

  it('a Cinder slower than OPENSTACK_TIMEOUT_MS gives 504 with an error body', async () => {
    delayMs = 2000;
    try {
      const { status, body } = await stack.v1('demo', 'GET', '/volume/slow');
      expect(status).toBe(504);
      expect(body.computeFault).toMatchObject({
        code: 504,
        message: 'Cinder did not answer within 1000 ms.',
      });
    } finally {
      delayMs = 0;
    }
  });
});
