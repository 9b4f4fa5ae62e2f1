import { hasServiceToken } from '../common/auth.js';
import { badRequest, notFound } from '../common/errors.js';
import type { Reply, RequestContext } from '../common/http.js';
import { atLeast, mvString } from '../common/microversion.js';
import type { Sim } from '../sim/context.js';
import { type ATTACH_STATUSES, VOLUME_STATUSES, type Volume, type VolumeStatus } from '../state/types.js';
import {
  attachmentsOf,
  checkNovaUsage,
  legacyAttach,
  removeAttachment,
  settleVolume,
} from './attachments.js';
import { invalidInput, invalidVolume, requireAdmin, requireWriter } from './policy.js';
import { parseBool } from './snapshots.js';
import { deleteVolume, extendVolume, revertVolume, touch } from './volumes.js';

/** What os-reset_status accepts: Cinder's VolumeStatus.ALL (cinder/objects/fields.py), in its order. */
const RESETTABLE_VOLUME_STATUSES = VOLUME_STATUSES.filter((s) => s !== 'reverting');

type ActionHandler = (sim: Sim, ctx: RequestContext, v: Volume, args: Record<string, unknown>) => Reply;

const accepted: Reply = { status: 202 };
const MIGRATION_STATUSES = ['migrating', 'error', 'success', 'completing', 'none', 'starting'];

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const mode = (v: unknown): 'rw' | 'ro' => (v === 'ro' ? 'ro' : 'rw');

function needVersion(ctx: RequestContext, min: string): void {
  if (!atLeast(ctx.mv, min))
    throw notFound(`API version ${mvString(ctx.mv)} is not supported on this method.`);
}

function detachOne(sim: Sim, ctx: RequestContext, v: Volume, attachmentId: unknown, force: boolean): void {
  const atts = attachmentsOf(sim, v.id);
  const target =
    typeof attachmentId === 'string'
      ? atts.find((a) => a.id === attachmentId)
      : atts.length === 1
        ? atts[0]
        : undefined;
  if (!target) {
    if (typeof attachmentId === 'string') {
      throw notFound(`Volume attachment could not be found with filter: attachment_id = ${attachmentId}.`);
    }
    if (force && atts.length === 0) {
      settleVolume(sim, v);
      return;
    }
    throw invalidVolume(`Volume ${v.id} has ${atts.length} attachments: name the attachment_id to detach.`);
  }
  if (!force && !['in-use', 'detaching', 'attaching', 'reserved'].includes(v.status)) {
    throw invalidVolume(
      `Volume ${v.id} status must be in-use or detaching to detach, but current status is: ${v.status}.`,
    );
  }
  checkNovaUsage(sim, target, hasServiceToken(ctx, sim.store));
  removeAttachment(sim, target);
}

/** POST /volumes/{id}/action, by action name (cinder/api/contrib/volume_actions.py, admin_actions.py, v3/volumes.py). */
export const VOLUME_ACTIONS: Record<string, ActionHandler> = {
  'os-extend': (sim, ctx, v, args) => {
    requireWriter(ctx.auth!, 'volume:extend');
    extendVolume(sim, v, args.new_size, atLeast(ctx.mv, '3.42'));
    return accepted;
  },
  'os-extend_volume_completion': (_sim, ctx, v, args) => {
    needVersion(ctx, '3.71');
    requireAdmin(ctx.auth!, 'volume:extend_volume_completion');
    if (v.status === 'extending') v.status = args.error === true ? 'error_extending' : 'in-use';
    touch(v);
    return accepted;
  },
  'os-reset_status': (sim, ctx, v, args) => {
    requireAdmin(ctx.auth!, 'volume_extension:volume_admin_actions:reset_status');
    const { status, attach_status: attach, migration_status: migration } = args;
    if (status === undefined && attach === undefined && migration === undefined) {
      throw invalidInput("Must specify 'status', 'attach_status' or 'migration_status' for update.");
    }
    if (status !== undefined && !(RESETTABLE_VOLUME_STATUSES as readonly unknown[]).includes(status)) {
      // Cinder checks the status against its VolumeStatus field: the transitional statuses only
      // Cinder itself sets (e.g. `reverting`) are refused.
      throw badRequest(
        `Volume status: ${String(status)} is invalid, valid statuses are: (${RESETTABLE_VOLUME_STATUSES.map((x) => `'${x}'`).join(', ')}).`,
      );
    }
    if (attach !== undefined && !['attached', 'detached'].includes(attach as string)) {
      throw invalidInput(`Invalid attach status ${String(attach)}`);
    }
    if (migration !== undefined && !MIGRATION_STATUSES.includes(migration as string)) {
      throw invalidInput(`Invalid migration status ${String(migration)}`);
    }
    if (status !== undefined) v.status = status as VolumeStatus;
    if (attach !== undefined) {
      v.attach_status = attach as (typeof ATTACH_STATUSES)[number];
      // Cinder marks every attachment detached when an admin resets attach_status to detached.
      if (attach === 'detached') {
        for (const a of attachmentsOf(sim, v.id)) delete sim.store.state.attachments[a.id];
      }
    }
    if (migration !== undefined) v.migration_status = migration === 'none' ? null : (migration as string);
    touch(v);
    return accepted;
  },
  revert: (sim, ctx, v, args) => {
    needVersion(ctx, '3.40');
    requireWriter(ctx.auth!, 'volume:revert_to_snapshot');
    revertVolume(sim, v, args.snapshot_id);
    return accepted;
  },
  'os-attach': (sim, ctx, v, args) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:attach');
    const mountpoint = str(args.mountpoint);
    if (!mountpoint) throw invalidInput('Must specify mountpoint');
    const instanceUuid = str(args.instance_uuid);
    const hostName = str(args.host_name);
    if (!instanceUuid && !hostName)
      throw invalidInput('Invalid request to attach volume to an invalid target');
    legacyAttach(sim, ctx.auth!.projectId, v, { instanceUuid, hostName, mountpoint, mode: mode(args.mode) });
    return accepted;
  },
  'os-detach': (sim, ctx, v, args) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:detach');
    detachOne(sim, ctx, v, args.attachment_id, false);
    return accepted;
  },
  'os-force_detach': (sim, ctx, v, args) => {
    requireAdmin(ctx.auth!, 'volume_extension:volume_admin_actions:force_detach');
    detachOne(sim, ctx, v, args.attachment_id, true);
    return accepted;
  },
  'os-reserve': (_sim, ctx, v) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:reserve');
    if (v.status !== 'available' && !(v.multiattach && v.status === 'in-use')) {
      throw invalidVolume(
        `Volume ${v.id} status must be available or in-use, but current status is: ${v.status}.`,
      );
    }
    v.status = 'attaching';
    touch(v);
    return accepted;
  },
  'os-unreserve': (sim, ctx, v) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:unreserve');
    if (v.status === 'attaching') {
      v.status = 'available';
      settleVolume(sim, v);
    }
    return accepted;
  },
  'os-begin_detaching': (_sim, ctx, v) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:begin_detaching');
    if (v.status !== 'in-use') {
      throw invalidVolume(`Volume ${v.id} status must be in-use, but current status is: ${v.status}.`);
    }
    v.status = 'detaching';
    touch(v);
    return accepted;
  },
  'os-roll_detaching': (sim, ctx, v) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:roll_detaching');
    if (v.status === 'detaching') {
      v.status = 'in-use';
      settleVolume(sim, v);
    }
    return accepted;
  },
  'os-initialize_connection': (sim, ctx, v) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:initialize_connection');
    return {
      status: 200,
      body: {
        connection_info: {
          driver_volume_type: 'local',
          data: {
            device_path: sim.files.volumePath(v.id),
            volume_id: v.id,
            access_mode: v.readonly ? 'ro' : 'rw',
          },
        },
      },
    };
  },
  'os-terminate_connection': (_sim, ctx) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:terminate_connection');
    return accepted;
  },
  'os-set_bootable': (_sim, ctx, v, args) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:set_bootable');
    if (args.bootable === undefined) throw invalidInput('Must specify bootable in request.');
    v.bootable = parseBool(args.bootable, 'bootable');
    touch(v);
    return { status: 200 };
  },
  'os-update_readonly_flag': (_sim, ctx, v, args) => {
    requireWriter(ctx.auth!, 'volume_extension:volume_actions:update_readonly_flag');
    if (args.readonly === undefined) throw invalidInput('Must specify readonly in request.');
    v.readonly = parseBool(args.readonly, 'readonly');
    touch(v);
    return accepted;
  },
  'os-force_delete': (sim, ctx, v) => {
    requireAdmin(ctx.auth!, 'volume_extension:volume_admin_actions:force_delete');
    deleteVolume(sim, v, { cascade: false, force: true });
    return accepted;
  },
};
