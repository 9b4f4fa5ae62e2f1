import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * OpenStack's request id form, `req-<uuid>`. A caller's own `X-OpenStack-Request-ID` is kept when it
 * has that form (as oslo.middleware does) so one id follows a request through gateway, us and Cinder.
 */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-openstack-request-id'];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  return `req-${randomUUID()}`;
}
