import type { RequestContext } from '../common/http.js';
import { atLeast } from '../common/microversion.js';
import { micro } from '../common/time.js';
import type { Sim } from '../sim/context.js';
import type { Attachment, Snapshot, Volume } from '../state/types.js';

/**
 * Response views, field by field, as cinder/api/v2|v3/views/*.py build them. `extended` adds what
 * Cinder's API extensions add to show and detailed lists (tenant, host and migration attributes,
 * snapshot progress/project), which create and update responses do not carry.
 */

/** The id used as "volume type" of every volume: Cinder's default type. */
export const DEFAULT_VOLUME_TYPE = { id: '5fed9d7c-401d-46e2-8e80-f30c70cb7e1d', name: '__DEFAULT__' };

function links(sim: Sim, ctx: RequestContext, collection: string, id: string) {
  const project = ctx.auth!.projectId;
  return [
    { href: `${sim.urls.cinder}/v3/${project}/${collection}/${id}`, rel: 'self' },
    { href: `${sim.urls.cinder}/${project}/${collection}/${id}`, rel: 'bookmark' },
  ];
}

export function volumeSummary(sim: Sim, ctx: RequestContext, v: Volume) {
  return { id: v.id, links: links(sim, ctx, 'volumes', v.id), name: v.name };
}

export function volumeDetail(sim: Sim, ctx: RequestContext, v: Volume, extended: boolean) {
  const isAdmin = ctx.auth!.isAdmin;
  const attachments = Object.values(sim.store.state.attachments)
    .filter((a) => a.volume_id === v.id && a.status === 'attached')
    .map((a) => ({
      id: v.id,
      attachment_id: a.id,
      volume_id: v.id,
      server_id: a.instance_uuid,
      host_name: isAdmin ? a.attached_host : null,
      device: a.mountpoint,
      attached_at: micro(a.attach_time),
    }));
  const out: Record<string, unknown> = {
    attachments,
    availability_zone: v.availability_zone,
    bootable: String(v.bootable),
    consistencygroup_id: null,
    created_at: micro(v.created_at),
    description: v.description,
    encrypted: false,
    id: v.id,
    links: links(sim, ctx, 'volumes', v.id),
    metadata: v.metadata,
    multiattach: v.multiattach,
    name: v.name,
    replication_status: null,
    size: v.size,
    snapshot_id: v.snapshot_id,
    source_volid: v.source_volid,
    status: v.status,
    updated_at: micro(v.updated_at),
    user_id: v.user_id,
    volume_type: DEFAULT_VOLUME_TYPE.name,
  };
  if (isAdmin) out.migration_status = v.migration_status;
  if (extended) {
    out['os-vol-tenant-attr:tenant_id'] = v.project_id;
    if (isAdmin) {
      out['os-vol-host-attr:host'] = 'sim@file#file';
      out['os-vol-mig-status-attr:migstat'] = v.migration_status;
      out['os-vol-mig-status-attr:name_id'] = null;
    }
    if (v.image_metadata) out.volume_image_metadata = v.image_metadata;
  }
  const mv = ctx.mv;
  if (atLeast(mv, '3.13')) out.group_id = null;
  if (isAdmin && atLeast(mv, '3.21')) out.provider_id = null;
  if (atLeast(mv, '3.48')) {
    out.service_uuid = null;
    out.shared_targets = null;
  }
  if (isAdmin && atLeast(mv, '3.61')) out.cluster_name = null;
  if (atLeast(mv, '3.63')) out.volume_type_id = DEFAULT_VOLUME_TYPE.id;
  if (atLeast(mv, '3.65')) out.consumes_quota = true;
  return out;
}

export function snapshotView(ctx: RequestContext, s: Snapshot, opts: { extended: boolean; detail: boolean }) {
  const out: Record<string, unknown> = {
    created_at: micro(s.created_at),
    description: s.description,
    id: s.id,
    metadata: s.metadata,
    name: s.name,
    size: s.size,
    status: s.status,
    updated_at: micro(s.updated_at),
    volume_id: s.volume_id,
  };
  if (opts.extended) {
    out['os-extended-snapshot-attributes:progress'] = s.progress;
    out['os-extended-snapshot-attributes:project_id'] = s.project_id;
  }
  if (opts.detail) {
    const mv = ctx.mv;
    if (atLeast(mv, '3.14')) out.group_snapshot_id = null;
    if (atLeast(mv, '3.41')) out.user_id = s.user_id;
    if (atLeast(mv, '3.65')) out.consumes_quota = true;
  }
  return out;
}

/** Cinder renders unset attach/detach times as "" in attachments (views/attachments.py). */
const attachTime = (iso: string | null) => micro(iso) ?? '';

export function attachmentSummary(a: Attachment) {
  return { id: a.id, status: a.status, instance: a.instance_uuid, volume_id: a.volume_id };
}

export function attachmentDetail(a: Attachment) {
  return {
    ...attachmentSummary(a),
    attached_at: attachTime(a.attach_time),
    detached_at: attachTime(a.detach_time),
    attach_mode: a.attach_mode,
    connection_info: a.connection_info,
  };
}
