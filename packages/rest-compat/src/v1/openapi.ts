import type { DomainErrorCode } from '@backup-service/server';
import { z } from 'zod';
import { FAULTS } from './faults.js';
import * as instances from './schemas/instances.js';
import * as backups from './schemas/volume-backups.js';
import * as volumes from './schemas/volumes.js';

// /v1/openapi.json: the OpenAPI 3.1 description of the /v1 contract, generated from the same zod
// schemas the routes parse requests with and build responses for (zod's own JSON Schema output,
// draft 2020-12, which is OpenAPI 3.1's dialect). Nothing here is written twice: a schema changed
// in schemas/*.ts changes the document.

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;
/** A path item: its operations, and parameters shared by them. */
type PathItem = Record<string, unknown>;

/** The named schemas of components.schemas: responses as the service writes them, requests as it reads them. */
const RESPONSES = {
  Backup: backups.backupView,
  BackupResponse: backups.backupResponse,
  BackupIdResponse: backups.backupIdResponse,
  BackupListResponse: backups.backupListResponse,
  RestoreResponse: backups.restoreResponse,
  VolumeResponse: volumes.volumeResponse,
  RollbackResponse: volumes.rollbackResponse,
  InstanceSnapshot: instances.instanceSnapshotView,
  InstanceSnapshotResponse: instances.instanceSnapshotResponse,
  InstanceSnapshotListResponse: instances.instanceSnapshotListResponse,
  InstanceSnapshotIdResponse: z.object({ snapshot: z.object({ id: backups.backupView.shape.id }) }),
  InstanceBackup: instances.instanceBackupView,
  InstanceBackupResponse: instances.instanceBackupResponse,
  InstanceBackupListResponse: instances.instanceBackupListResponse,
} satisfies Record<string, z.ZodType>;

const REQUESTS = {
  CreateBackupRequest: backups.createBackupRequest,
  ...actionSchemas('BackupAction', backups.backupActions),
  RestoreVolumeRequest: volumes.restoreVolumeRequest,
  RollbackRequest: volumes.rollbackRequest,
  CreateInstanceSnapshotRequest: instances.createInstanceSnapshotRequest,
  CreateInstanceBackupRequest: instances.createInstanceBackupRequest,
  ...actionSchemas('InstanceBackupAction', instances.instanceBackupActions),
} satisfies Record<string, z.ZodType>;

/** `{"<action>": {...}}` for each action of a resource, as a schema of its own. */
function actionSchemas(prefix: string, actions: Record<string, z.ZodType>): Record<string, z.ZodType> {
  return Object.fromEntries(
    Object.entries(actions).map(([name, args]) => [`${prefix}_${name}`, z.strictObject({ [name]: args })]),
  );
}

const ref = (name: keyof typeof RESPONSES | keyof typeof REQUESTS | string) => ({
  $ref: `#/components/schemas/${name}`,
});

function componentSchemas(
  schemas: Record<string, z.ZodType>,
  io: 'input' | 'output',
): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: generated } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: 'any',
  });
  return Object.fromEntries(
    Object.entries(generated).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema as JsonSchema]),
  );
}

/** A query string's parameters from the strict object schema the route parses it with. */
function queryParameters(schema: z.ZodObject, descriptions: Record<string, string> = {}) {
  return Object.entries(schema.shape).map(([name, field]) => {
    const { $schema: _, ...json } = z.toJSONSchema(field as z.ZodType, {
      target: 'draft-2020-12',
      io: 'input',
      unrepresentable: 'any',
    }) as JsonSchema;
    return {
      name,
      in: 'query',
      required: !(field as z.ZodType).safeParse(undefined).success,
      schema: json,
      ...(descriptions[name] ? { description: descriptions[name] } : {}),
    };
  });
}

const LIST_PARAMETERS = {
  limit: 'Largest number of items to return (at most 1000).',
  marker: 'Id of the last item of the previous page.',
  sort: "Cinder's `key:dir`, e.g. `created_at:desc` (only the first key is used).",
  sort_key: 'Older form of `sort`.',
  sort_dir: 'Older form of `sort`: asc or desc.',
  all_tenants: "Admin only: every project's.",
};

// ── errors: the Cinder fault bodies, one per status, from the same table /v1 answers with ───────────

const FAULT_RESPONSES: Record<number, { name: string; description: string }> = {};
for (const [code, { status, name }] of Object.entries(FAULTS) as Array<
  [DomainErrorCode, { status: number; name: string }]
>) {
  FAULT_RESPONSES[status] ??= { name, description: describeFault(code) };
}

function describeFault(code: DomainErrorCode): string {
  const text: Record<DomainErrorCode, string> = {
    BAD_REQUEST: 'The request is not valid (the message names the field).',
    UNAUTHORIZED: 'No X-Auth-Token, or Keystone does not accept it.',
    FORBIDDEN: "The caller's roles do not allow it (reader on a write; an admin-only action).",
    NOT_FOUND: "Absent, or not the caller's project's.",
    CONFLICT: 'Not in a status that allows it (the message says what to do).',
    PAYLOAD_TOO_LARGE: 'The body is larger than BODY_LIMIT_BYTES.',
    UPSTREAM_UNAVAILABLE: 'An OpenStack service failed or could not be reached.',
    UPSTREAM_TIMEOUT: 'An OpenStack service did not answer in time.',
    INTERNAL: 'The service failed.',
  };
  return text[code];
}

function faultSchema(name: string): JsonSchema {
  return {
    type: 'object',
    required: [name],
    additionalProperties: false,
    properties: {
      [name]: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'integer' }, message: { type: 'string' } },
      },
    },
  };
}

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const requestId = { 'x-openstack-request-id': { $ref: '#/components/headers/RequestId' } };

function answer(description: string, schema?: JsonSchema) {
  return { description, headers: requestId, ...(schema ? { content: json(schema) } : {}) };
}

/** An operation's responses: its successes and the faults it can answer with. */
function responses(success: Record<string, ReturnType<typeof answer>>, faults: number[]) {
  return {
    ...success,
    ...Object.fromEntries(
      [401, ...faults, 500].map((status) => [
        String(status),
        { $ref: `#/components/responses/Fault${status}` },
      ]),
    ),
  };
}

const idParameter = (what: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description: `The ${what}'s id.`,
  schema: { type: 'string', format: 'uuid' },
});

const actionBody = (prefix: string, actions: Record<string, unknown>) => ({
  required: true,
  description: 'Exactly one action.',
  content: json({ oneOf: Object.keys(actions).map((name) => ref(`${prefix}_${name}`)) }),
});

const READS = [400, 404];
const WRITES = [400, 403, 404, 409, 413, 502, 504];

function paths(): Record<string, PathItem> {
  return {
    '/volume/backup': {
      get: {
        operationId: 'listVolumeBackups',
        tags: ['Volume backups'],
        summary: 'List volume backups',
        description:
          "The caller's project's backups, newest first (every project's with all_tenants=1: admin).",
        parameters: queryParameters(backups.listBackupsQuery, LIST_PARAMETERS),
        responses: responses(
          {
            200: answer(
              'A page of backups; `backups_links` has a `next` link when more remain.',
              ref('BackupListResponse'),
            ),
          },
          [400, 403],
        ),
      },
      post: {
        operationId: 'createVolumeBackup',
        tags: ['Volume backups'],
        summary: 'Back up a volume',
        description:
          'Full or incremental (default: incremental when an earlier backup of the volume exists), of an available or in-use volume (read from a point-in-time snapshot), or of one of its snapshots.',
        requestBody: { required: true, content: json(ref('CreateBackupRequest')) },
        responses: responses(
          { 201: answer('Accepted: the backup, `creating`.', ref('BackupResponse')) },
          WRITES,
        ),
      },
    },
    '/volume/backup/{id}': {
      parameters: [idParameter('backup')],
      get: {
        operationId: 'showVolumeBackup',
        tags: ['Volume backups'],
        summary: 'Show a volume backup',
        responses: responses({ 200: answer('The backup.', ref('BackupResponse')) }, READS),
      },
      delete: {
        operationId: 'deleteVolumeBackup',
        tags: ['Volume backups'],
        summary: 'Delete a volume backup',
        description:
          'Available or error backups; it shows `deleting` until its manifest and record are gone.',
        responses: responses({ 201: answer('Accepted.', ref('BackupIdResponse')) }, WRITES),
      },
    },
    '/volume/backup/{id}/action': {
      parameters: [idParameter('backup')],
      post: {
        operationId: 'actOnVolumeBackup',
        tags: ['Volume backups'],
        summary: 'Act on a volume backup',
        description:
          '`update` (name, description, metadata), `restore` (into an existing volume or a new one), `verify` (re-read every chunk), `reset_status`/`os-reset_status` and `os-force_delete` (admin).',
        requestBody: actionBody('BackupAction', backups.backupActions),
        responses: responses(
          {
            201: answer(
              'Done or accepted: the backup (update, verify, reset_status), the restore, or the id (os-force_delete).',
              {
                anyOf: [ref('BackupResponse'), ref('RestoreResponse'), ref('BackupIdResponse')],
              },
            ),
          },
          WRITES,
        ),
      },
    },
    '/volume': {
      post: {
        operationId: 'createVolume',
        tags: ['Volumes'],
        summary: 'Create a volume (from a backup: restore)',
        description:
          "With `volume.backup_id`: a new volume of the caller's, filled from the backup (`restoring-backup`, then `available`). Without: passed through to Cinder's `POST /volumes` unchanged.",
        requestBody: {
          required: true,
          content: json({
            anyOf: [
              ref('RestoreVolumeRequest'),
              { type: 'object', description: "Cinder's create volume request." },
            ],
          }),
        },
        responses: responses(
          {
            201: answer('Restore accepted: the new volume.', ref('VolumeResponse')),
            202: answer("Cinder's answer (passthrough)."),
          },
          WRITES,
        ),
      },
      get: passthrough('listVolumes', "Cinder's `GET /volumes`."),
    },
    '/volume/{id}': {
      parameters: [idParameter('volume')],
      get: passthrough('showVolume', "Cinder's `GET /volumes/{id}`."),
      put: passthrough('updateVolume', "Cinder's `PUT /volumes/{id}`."),
      delete: passthrough('deleteVolume', "Cinder's `DELETE /volumes/{id}`."),
    },
    '/volume/{id}/action': {
      parameters: [idParameter('volume')],
      post: {
        operationId: 'actOnVolume',
        tags: ['Volumes'],
        summary: 'Act on a volume (rollback)',
        description:
          '`rollback` to any snapshot of the volume: available, or in-use with every attached instance stopped (409 naming the running ones). Every other action is passed through to Cinder.',
        requestBody: {
          required: true,
          content: json({
            anyOf: [ref('RollbackRequest'), { type: 'object', description: 'A Cinder volume action.' }],
          }),
        },
        responses: responses(
          {
            201: answer('Rollback accepted.', ref('RollbackResponse')),
            202: answer("Cinder's answer (passthrough)."),
          },
          WRITES,
        ),
      },
    },
    '/instance/snapshot': {
      get: {
        operationId: 'listInstanceSnapshots',
        tags: ['Instance snapshots'],
        summary: 'List instance snapshots',
        parameters: queryParameters(instances.listInstanceArtifactsQuery, LIST_PARAMETERS),
        responses: responses(
          { 200: answer('A page of instance snapshots.', ref('InstanceSnapshotListResponse')) },
          [400, 403],
        ),
      },
      post: {
        operationId: 'createInstanceSnapshot',
        tags: ['Instance snapshots'],
        summary: 'Snapshot an instance',
        description:
          'A Cinder snapshot of every attached volume and (image-backed root disk) a Glance image, at one point in time. Instance statuses ACTIVE, SHUTOFF, SUSPENDED, PAUSED; others 409.',
        requestBody: { required: true, content: json(ref('CreateInstanceSnapshotRequest')) },
        responses: responses(
          { 201: answer('Accepted: the snapshot, `creating`.', ref('InstanceSnapshotResponse')) },
          WRITES,
        ),
      },
    },
    '/instance/snapshot/{id}': {
      parameters: [idParameter('instance snapshot')],
      get: {
        operationId: 'showInstanceSnapshot',
        tags: ['Instance snapshots'],
        summary: 'Show an instance snapshot',
        responses: responses(
          { 200: answer('The instance snapshot.', ref('InstanceSnapshotResponse')) },
          READS,
        ),
      },
      delete: {
        operationId: 'deleteInstanceSnapshot',
        tags: ['Instance snapshots'],
        summary: 'Delete an instance snapshot',
        description: 'Removes what it created.',
        responses: responses({ 201: answer('Accepted.', ref('InstanceSnapshotIdResponse')) }, WRITES),
      },
    },
    '/instance/backup': {
      get: {
        operationId: 'listInstanceBackups',
        tags: ['Instance backups'],
        summary: 'List instance backups',
        parameters: queryParameters(instances.listInstanceArtifactsQuery, LIST_PARAMETERS),
        responses: responses(
          { 200: answer('A page of instance backups.', ref('InstanceBackupListResponse')) },
          [400, 403],
        ),
      },
      post: {
        operationId: 'createInstanceBackup',
        tags: ['Instance backups'],
        summary: 'Back up an instance',
        description:
          "A volume backup of every attached volume (incremental where possible) from snapshots taken together, and the instance's description.",
        requestBody: { required: true, content: json(ref('CreateInstanceBackupRequest')) },
        responses: responses(
          { 201: answer('Accepted: the instance backup, `creating`.', ref('InstanceBackupResponse')) },
          WRITES,
        ),
      },
    },
    '/instance/backup/{id}': {
      parameters: [idParameter('instance backup')],
      get: {
        operationId: 'showInstanceBackup',
        tags: ['Instance backups'],
        summary: 'Show an instance backup',
        responses: responses({ 200: answer('The instance backup.', ref('InstanceBackupResponse')) }, READS),
      },
      delete: {
        operationId: 'deleteInstanceBackup',
        tags: ['Instance backups'],
        summary: 'Delete an instance backup',
        responses: responses({ 201: answer('Accepted.', ref('BackupIdResponse')) }, WRITES),
      },
    },
    '/instance/backup/{id}/action': {
      parameters: [idParameter('instance backup')],
      post: {
        operationId: 'actOnInstanceBackup',
        tags: ['Instance backups'],
        summary: 'Act on an instance backup',
        description: '`update`, `verify`, `reset_status`/`os-reset_status` (admin).',
        requestBody: actionBody('InstanceBackupAction', instances.instanceBackupActions),
        responses: responses({ 201: answer('The instance backup.', ref('InstanceBackupResponse')) }, WRITES),
      },
    },
  };
}

function passthrough(operationId: string, description: string): Operation {
  return {
    operationId,
    tags: ['Cinder passthrough'],
    summary: description,
    description: `Passed through to ${description} on the caller's project, with the caller's token: Cinder's status, headers and body come back unchanged.`,
    responses: {
      default: { description: "Cinder's answer, unchanged." },
      502: { $ref: '#/components/responses/Fault502' },
      504: { $ref: '#/components/responses/Fault504' },
    },
  };
}

let cached: JsonSchema | undefined;

/** The document (built once; it depends only on the schemas). */
export function openApiDocument(): JsonSchema {
  cached ??= {
    openapi: '3.1.0',
    info: {
      title: 'Backup service — /v1',
      version: '1',
      description:
        'The /v1 contract of the backup service for OpenStack: volume backups, restore, rollback, instance snapshots and backups, and a passthrough to Cinder for everything else under /volume. Every request needs a Keystone token in X-Auth-Token; every answer carries x-openstack-request-id; errors are Cinder fault bodies.',
    },
    servers: [{ url: '/v1' }],
    security: [{ keystoneToken: [] }],
    tags: [
      { name: 'Volume backups' },
      { name: 'Volumes' },
      { name: 'Instance snapshots' },
      { name: 'Instance backups' },
      { name: 'Cinder passthrough' },
    ],
    paths: paths(),
    components: {
      securitySchemes: {
        keystoneToken: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Auth-Token',
          description: 'A Keystone v3 token (`X-Subject-Token` of POST /v3/auth/tokens).',
        },
      },
      headers: {
        RequestId: {
          description: "req-<uuid>, also in the service's log.",
          schema: { type: 'string', pattern: '^req-' },
        },
      },
      responses: Object.fromEntries(
        Object.entries(FAULT_RESPONSES).map(([status, { name, description }]) => [
          `Fault${status}`,
          answer(description, faultSchema(name)),
        ]),
      ),
      schemas: { ...componentSchemas(RESPONSES, 'output'), ...componentSchemas(REQUESTS, 'input') },
    },
  };
  return cached;
}
