import type { DomainErrorCode } from '@backup-service/server';

/** Cinder's fault names and statuses for each domain error (cinder/api/openstack/wsgi.py `Fault`). */
export const FAULTS: Record<DomainErrorCode, { status: number; name: string }> = {
  BAD_REQUEST: { status: 400, name: 'badRequest' },
  UNAUTHORIZED: { status: 401, name: 'unauthorized' },
  FORBIDDEN: { status: 403, name: 'forbidden' },
  NOT_FOUND: { status: 404, name: 'itemNotFound' },
  CONFLICT: { status: 409, name: 'conflictingRequest' },
  PAYLOAD_TOO_LARGE: { status: 413, name: 'overLimit' },
  UPSTREAM_UNAVAILABLE: { status: 502, name: 'computeFault' },
  UPSTREAM_TIMEOUT: { status: 504, name: 'computeFault' },
  INTERNAL: { status: 500, name: 'computeFault' },
};

/** The one place a /v1 error body is built: `{"<faultName>": {"code": N, "message": "..."}}`. */
export function faultBody(code: DomainErrorCode, message: string) {
  const { status, name } = FAULTS[code];
  return { status, body: { [name]: { code: status, message } } };
}
