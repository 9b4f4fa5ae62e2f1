/** Which service answers a gateway route. */
export type GatewayUpstream = 'cinder' | 'backup';

export interface GatewayRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** The gateway's path below its base path `/v1`; `:id` is one path segment. */
  path: string;
  upstream: GatewayUpstream;
  /**
   * Where it goes: for Cinder below the caller's project endpoint (`…/v3/<project>`), for the backup
   * service below its base URL. `:id` is the same segment.
   */
  target: string;
}

const cinder = (method: GatewayRoute['method'], path: string, target: string): GatewayRoute => ({
  method,
  path,
  upstream: 'cinder',
  target,
});
const backup = (method: GatewayRoute['method'], path: string, target: string): GatewayRoute => ({
  method,
  path,
  upstream: 'backup',
  target,
});

/**
 * The seed's gateway tables (§1.4 and §2.4), row by row. Where the seed lists both Cinder and the
 * backup service for a row (`POST /block/volume`, `POST /block/volume/<id>/action`), the backup service
 * answers: it handles restore and rollback itself and passes everything else through to Cinder.
 */
export const GATEWAY_ROUTES: readonly GatewayRoute[] = [
  // 1.4: volume snapshots are Cinder's
  cinder('GET', '/block/snapshot', '/snapshots'),
  cinder('GET', '/block/snapshot/:id', '/snapshots/:id'),
  cinder('POST', '/block/snapshot', '/snapshots'),
  cinder('DELETE', '/block/snapshot/:id', '/snapshots/:id'),
  // 1.4: volume backups are the backup service's
  backup('GET', '/block/backup', '/v1/volume/backup'),
  backup('GET', '/block/backup/:id', '/v1/volume/backup/:id'),
  backup('POST', '/block/backup', '/v1/volume/backup'),
  backup('POST', '/block/backup/:id/action', '/v1/volume/backup/:id/action'),
  backup('DELETE', '/block/backup/:id', '/v1/volume/backup/:id'),
  // 1.4: volumes are Cinder's, but for create (restore from a backup) and actions (rollback)
  cinder('GET', '/block/volume', '/volumes'),
  cinder('GET', '/block/volume/:id', '/volumes/:id'),
  backup('POST', '/block/volume', '/v1/volume'),
  backup('POST', '/block/volume/:id/action', '/v1/volume/:id/action'),
  cinder('DELETE', '/block/volume/:id', '/volumes/:id'),
  // 2.4: instance snapshots and backups are the backup service's
  backup('GET', '/compute/snapshot', '/v1/instance/snapshot'),
  backup('GET', '/compute/snapshot/:id', '/v1/instance/snapshot/:id'),
  backup('POST', '/compute/snapshot', '/v1/instance/snapshot'),
  backup('DELETE', '/compute/snapshot/:id', '/v1/instance/snapshot/:id'),
  backup('GET', '/compute/backup', '/v1/instance/backup'),
  backup('GET', '/compute/backup/:id', '/v1/instance/backup/:id'),
  backup('POST', '/compute/backup', '/v1/instance/backup'),
  backup('POST', '/compute/backup/:id/action', '/v1/instance/backup/:id/action'),
  backup('DELETE', '/compute/backup/:id', '/v1/instance/backup/:id'),
];
