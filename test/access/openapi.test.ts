import { randomBytes } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstanceArtifact } from '../support/instances.js';
import { SimNova } from '../support/nova.js';
import { type Stack, startStack, type V1Response, waitForBackup } from '../support/stack.js';
import { settleJobs } from './doors.js';

// Acceptance 5: /v1/openapi.json is valid OpenAPI 3.1, describes every /v1 route of the seed, and
// live /v1 answers match it (validated with Ajv's JSON Schema 2020-12, OpenAPI 3.1's dialect).

let stack: Stack;
let document: any;
let ajv: Ajv2020;

/** The seed's /v1 routes (../shared/seed/backup-service.md §1.2, §1.3, §2.1, §2.2). */
const SEED_ROUTES = [
  ['get', '/volume/backup'],
  ['get', '/volume/backup/{id}'],
  ['post', '/volume/backup'],
  ['post', '/volume/backup/{id}/action'],
  ['delete', '/volume/backup/{id}'],
  ['post', '/volume'],
  ['post', '/volume/{id}/action'],
  ['get', '/instance/snapshot'],
  ['get', '/instance/snapshot/{id}'],
  ['post', '/instance/snapshot'],
  ['delete', '/instance/snapshot/{id}'],
  ['get', '/instance/backup'],
  ['get', '/instance/backup/{id}'],
  ['post', '/instance/backup'],
  ['post', '/instance/backup/{id}/action'],
  ['delete', '/instance/backup/{id}'],
] as const;

beforeAll(async () => {
  stack = await startStack();
  const response = await fetch(`${stack.url}/v1/openapi.json`);
  expect(response.status).toBe(200);
  document = await response.json();
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ ...document, $id: 'openapi.json' });
});
afterAll(async () => {
  if (!stack) return;
  try {
    await settleJobs(stack);
  } finally {
    await stack.close();
  }
});

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** Checks a live /v1 answer against the document's response for its route, method and status. */
function conforms(method: string, route: string, answer: V1Response) {
  const responses = document.paths[route]?.[method]?.responses;
  expect(responses, `${method} ${route} in the document`).toBeDefined();
  let response = responses[String(answer.status)];
  expect(response, `${method} ${route} answers ${answer.status}: ${answer.text}`).toBeDefined();
  let path = `openapi.json#/${pointer('paths', route, method, 'responses', String(answer.status))}`;
  if (response.$ref) {
    path = `openapi.json${response.$ref}`;
    response = document.components.responses[response.$ref.split('/').at(-1)];
  }
  expect(answer.headers.get('x-openstack-request-id')).toMatch(/^req-/);
  if (!response.content) return;
  const validate = ajv.getSchema(`${path}/content/application~1json/schema`);
  expect(validate, path).toBeDefined();
  const valid = validate?.(answer.body);
  expect(
    valid,
    `${method} ${route} ${answer.status}: ${JSON.stringify(validate?.errors)}\n${answer.text}`,
  ).toBe(true);
}

describe('/v1/openapi.json', () => {
  it('is served without a token and validates as OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(document.openapi).toBe('3.1.0');
  });

  it('describes every /v1 route of the seed, and each is a route of the service', () => {
    for (const [method, route] of SEED_ROUTES) {
      const operation = document.paths[route]?.[method];
      expect(operation, `${method.toUpperCase()} ${route}`).toBeDefined();
      expect(Object.keys(operation.responses).some((status) => /^2/.test(status))).toBe(true);
    }
    for (const [route, item] of Object.entries<any>(document.paths)) {
      for (const method of ['get', 'post', 'put', 'delete']) {
        if (!item[method]) continue;
        const url = `/v1${route.replaceAll('{id}', ':id')}`;
        const served = stack.service.http.hasRoute({ method: method.toUpperCase() as 'GET', url });
        const passedThrough = item[method].tags?.includes('Cinder passthrough');
        expect(served || passedThrough, `${method.toUpperCase()} ${url}`).toBe(true);
      }
    }
  });

  it('renders an API reference page without a token, from nothing but the service', async () => {
    const response = await fetch(`${stack.url}/v1/reference`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    for (const [method, route] of SEED_ROUTES)
      expect(html).toContain(`${method.toUpperCase()}</span> <code>/v1${route}</code>`);
    expect(html).not.toMatch(/<script|<link[^>]+href=["']?https?:|src=["']?https?:/i);
  });
});

describe('live /v1 answers match the document', () => {
  it('(the check itself refuses an answer that does not match)', () => {
    const backupResponse = ajv.getSchema('openapi.json#/components/schemas/BackupResponse');
    expect(backupResponse?.({ backup: { id: 'not-a-uuid' } })).toBe(false);
    const listResponse = ajv.getSchema('openapi.json#/components/schemas/BackupListResponse');
    expect(listResponse?.({ backups: [], surprise: true })).toBe(false);
    expect(listResponse?.({ backups: [] })).toBe(true);
  });

  it('volume backups, restore, rollback and their faults', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(128 * 1024));

    const created = await stack.v1('demo', 'POST', '/volume/backup', {
      backup: { volume_id: volumeId, name: 'oa' },
    });
    conforms('post', '/volume/backup', created);
    const id = created.body.backup.id;
    await waitForBackup(stack, 'demo', id);
    const second = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volumeId } });
    await waitForBackup(stack, 'demo', second.body.backup.id);

    conforms('get', '/volume/backup', await stack.v1('demo', 'GET', '/volume/backup'));
    const paged = await stack.v1('demo', 'GET', '/volume/backup?limit=1');
    expect(paged.body.backups_links).toHaveLength(1);
    conforms('get', '/volume/backup', paged);
    conforms('get', '/volume/backup/{id}', await stack.v1('demo', 'GET', `/volume/backup/${id}`));
    const action = (body: unknown, user: 'demo' | 'admin' = 'demo') =>
      stack.v1(user, 'POST', `/volume/backup/${id}/action`, body);
    conforms(
      'post',
      '/volume/backup/{id}/action',
      await action({ update: { name: 'renamed', metadata: { a: 'b' } } }),
    );
    conforms('post', '/volume/backup/{id}/action', await action({ verify: {} }));
    conforms(
      'post',
      '/volume/backup/{id}/action',
      await action({ 'os-reset_status': { status: 'available' } }, 'admin'),
    );
    const restore = await action({ restore: {} });
    conforms('post', '/volume/backup/{id}/action', restore);
    await stack.cinder.waitVolume('demo', restore.body.restore.volume_id, 'available');
    await waitForBackup(stack, 'demo', id);

    const volume = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: id, name: 'from-oa' } });
    conforms('post', '/volume', volume);
    await stack.cinder.waitVolume('demo', volume.body.volume.id, 'available');

    const snapshotId = await stack.cinder.createSnapshot('demo', volumeId);
    const rollback = await stack.v1('demo', 'POST', `/volume/${volumeId}/action`, {
      rollback: { snapshot_id: snapshotId },
    });
    conforms('post', '/volume/{id}/action', rollback);

    // Faults are Cinder's bodies, as described.
    conforms('get', '/volume/backup/{id}', await stack.v1('alt_demo', 'GET', `/volume/backup/${id}`));
    conforms('get', '/volume/backup', await stack.v1(null, 'GET', '/volume/backup'));
    conforms('get', '/volume/backup', await stack.v1('demo', 'GET', '/volume/backup?all_tenants=1'));
    conforms('get', '/volume/backup', await stack.v1('demo', 'GET', '/volume/backup?sort=nope'));
    conforms(
      'post',
      '/volume/backup',
      await stack.v1('reader', 'POST', '/volume/backup', { backup: { volume_id: volumeId } }),
    );
    conforms(
      'post',
      '/volume/backup',
      await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume: 1 } }),
    );
    conforms('post', '/volume/backup/{id}/action', await action({ explode: {} }));

    conforms(
      'delete',
      '/volume/backup/{id}',
      await stack.v1('demo', 'DELETE', `/volume/backup/${second.body.backup.id}`),
    );
    const deleted = await stack.v1('demo', 'POST', `/volume/backup/${id}/action`, { 'os-force_delete': {} });
    conforms('post', '/volume/backup/{id}/action', deleted);
    conforms(
      'post',
      '/volume/backup/{id}/action',
      await stack.v1('admin', 'POST', `/volume/backup/${id}/action`, { 'os-force_delete': {} }),
    );
  });

  it('instance snapshots and instance backups', async () => {
    const nova = new SimNova(stack);
    const boot = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(boot, 0, randomBytes(64 * 1024));
    const serverId = await nova.createServer('demo', { bootVolumeId: boot });

    const snapshot = await stack.v1('demo', 'POST', '/instance/snapshot', {
      snapshot: { instance_id: serverId, name: 's' },
    });
    conforms('post', '/instance/snapshot', snapshot);
    await waitForInstanceArtifact(stack, 'demo', 'snapshot', snapshot.body.snapshot.id);
    conforms('get', '/instance/snapshot', await stack.v1('demo', 'GET', '/instance/snapshot'));
    conforms(
      'get',
      '/instance/snapshot/{id}',
      await stack.v1('demo', 'GET', `/instance/snapshot/${snapshot.body.snapshot.id}`),
    );
    conforms(
      'get',
      '/instance/snapshot/{id}',
      await stack.v1('alt_demo', 'GET', `/instance/snapshot/${snapshot.body.snapshot.id}`),
    );

    const backup = await stack.v1('demo', 'POST', '/instance/backup', {
      backup: { instance_id: serverId, name: 'b' },
    });
    conforms('post', '/instance/backup', backup);
    const backupId = backup.body.backup.id;
    await waitForInstanceArtifact(stack, 'demo', 'backup', backupId);
    conforms('get', '/instance/backup', await stack.v1('demo', 'GET', '/instance/backup'));
    conforms('get', '/instance/backup/{id}', await stack.v1('demo', 'GET', `/instance/backup/${backupId}`));
    conforms(
      'post',
      '/instance/backup/{id}/action',
      await stack.v1('demo', 'POST', `/instance/backup/${backupId}/action`, { update: { name: 'renamed' } }),
    );
    conforms(
      'post',
      '/instance/backup/{id}/action',
      await stack.v1('demo', 'POST', `/instance/backup/${backupId}/action`, {
        'os-reset_status': { status: 'error' },
      }),
    );
    conforms(
      'delete',
      '/instance/backup/{id}',
      await stack.v1('demo', 'DELETE', `/instance/backup/${backupId}`),
    );
    conforms(
      'delete',
      '/instance/snapshot/{id}',
      await stack.v1('demo', 'DELETE', `/instance/snapshot/${snapshot.body.snapshot.id}`),
    );
  });
});
