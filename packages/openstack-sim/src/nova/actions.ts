import { badRequest } from '../common/errors.js';
import type { Reply, RequestContext } from '../common/http.js';
import { atLeast } from '../common/microversion.js';
import type { Sim } from '../sim/context.js';
import type { Server } from '../state/types.js';
import { checkLock, checkState, denied, requireAdmin, requireWriter } from './policy.js';
import { touchServer } from './servers.js';
import { snapshotImageBacked, snapshotVolumeBacked } from './snapshots.js';

type ActionHandler = (sim: Sim, ctx: RequestContext, s: Server, args: unknown) => Reply | Promise<Reply>;

const accepted: Reply = { status: 202 };

/** A power action: task_state now, the final vm_state after the transition delay. */
function transition(
  sim: Sim,
  s: Server,
  taskState: string,
  final: { vm_state: string; power_state: number },
): Reply {
  s.task_state = taskState;
  touchServer(s);
  sim.scheduler.schedule('server.transition', s.id, { task_state: taskState, ...final });
  return accepted;
}

/** createImage/createBackup answer: `Location` before 2.45, `{"image_id"}` from 2.45. */
function imageReply(sim: Sim, ctx: RequestContext, imageId: string): Reply {
  if (atLeast(ctx.mv, '2.45')) return { status: 202, body: { image_id: imageId } };
  return { status: 202, headers: { location: `${sim.urls.glance}/images/${imageId}` } };
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** POST /servers/{id}/action, by action name. */
export const SERVER_ACTIONS: Record<string, ActionHandler> = {
  'os-start': (sim, ctx, s) => {
    requireWriter(ctx.auth!, 'os_compute_api:servers:start');
    checkLock(ctx.auth!, s);
    checkState(s, 'start', ['stopped']);
    return transition(sim, s, 'powering-on', { vm_state: 'active', power_state: 1 });
  },
  'os-stop': (sim, ctx, s) => {
    requireWriter(ctx.auth!, 'os_compute_api:servers:stop');
    checkLock(ctx.auth!, s);
    checkState(s, 'stop', ['active', 'error']);
    return transition(sim, s, 'powering-off', { vm_state: 'stopped', power_state: 4 });
  },
  pause: (sim, ctx, s) => {
    requireWriter(ctx.auth!, 'os_compute_api:os-pause-server:pause');
    checkLock(ctx.auth!, s);
    checkState(s, 'pause', ['active']);
    return transition(sim, s, 'pausing', { vm_state: 'paused', power_state: 3 });
  },
  unpause: (sim, ctx, s) => {
    requireWriter(ctx.auth!, 'os_compute_api:os-pause-server:unpause');
    checkLock(ctx.auth!, s);
    checkState(s, 'unpause', ['paused']);
    return transition(sim, s, 'unpausing', { vm_state: 'active', power_state: 1 });
  },
  suspend: (sim, ctx, s) => {
    requireWriter(ctx.auth!, 'os_compute_api:os-suspend-server:suspend');
    checkLock(ctx.auth!, s);
    checkState(s, 'suspend', ['active']);
    return transition(sim, s, 'suspending', { vm_state: 'suspended', power_state: 7 });
  },
  resume: (sim, ctx, s) => {
    requireWriter(ctx.auth!, 'os_compute_api:os-suspend-server:resume');
    checkLock(ctx.auth!, s);
    checkState(s, 'resume', ['suspended']);
    return transition(sim, s, 'resuming', { vm_state: 'active', power_state: 1 });
  },
  reboot: (sim, ctx, s, args) => {
    requireWriter(ctx.auth!, 'os_compute_api:servers:reboot');
    checkLock(ctx.auth!, s);
    const hard = obj(args)?.type === 'HARD';
    checkState(s, 'reboot', hard ? ['active', 'stopped', 'paused', 'suspended', 'error'] : ['active']);
    return transition(sim, s, hard ? 'rebooting_hard' : 'rebooting', { vm_state: 'active', power_state: 1 });
  },
  lock: (_sim, ctx, s, args) => {
    requireWriter(ctx.auth!, 'os_compute_api:os-lock-server:lock');
    const reason = obj(args)?.locked_reason;
    if (reason !== undefined && !atLeast(ctx.mv, '2.73')) {
      throw badRequest(
        "Invalid input for field/attribute lock. Additional properties are not allowed ('locked_reason' was unexpected)",
      );
    }
    s.locked = true;
    s.locked_by = ctx.auth!.projectId === s.project_id ? 'owner' : 'admin';
    s.locked_reason = typeof reason === 'string' ? reason : null;
    touchServer(s);
    return accepted;
  },
  unlock: (_sim, ctx, s) => {
    requireWriter(ctx.auth!, 'os_compute_api:os-lock-server:unlock');
    if (s.locked && s.locked_by === 'admin' && !ctx.auth!.isAdmin) {
      throw denied('os_compute_api:os-lock-server:unlock:unlock_override');
    }
    s.locked = false;
    s.locked_by = null;
    s.locked_reason = null;
    touchServer(s);
    return accepted;
  },
  'os-resetState': (_sim, ctx, s, args) => {
    requireAdmin(ctx.auth!, 'os_compute_api:os-admin-actions:reset_state');
    const state = obj(args)?.state;
    if (state !== 'active' && state !== 'error') {
      throw badRequest(
        `Invalid input for field/attribute state. Value: ${String(state)}. '${String(state)}' is not one of ['active', 'error']`,
      );
    }
    s.vm_state = state;
    s.task_state = null;
    touchServer(s);
    return accepted;
  },
  createImage: async (sim, ctx, s, args) => {
    requireWriter(ctx.auth!, 'os_compute_api:servers:create_image');
    const a = obj(args);
    if (!a || typeof a.name !== 'string' || !a.name) {
      throw badRequest("Invalid input for field/attribute createImage. 'name' is a required property");
    }
    if (s.image_id) {
      checkState(s, 'createImage', ['active', 'stopped', 'paused', 'suspended']);
      return imageReply(sim, ctx, snapshotImageBacked(sim, ctx.auth!, s, a.name, a.metadata).id);
    }
    checkState(s, 'createImage', ['active', 'stopped', 'paused', 'suspended']);
    const img = await snapshotVolumeBacked(sim, ctx.auth!, s, a.name, a.metadata);
    return imageReply(sim, ctx, img.id);
  },
  createBackup: (sim, ctx, s, args) => {
    requireWriter(ctx.auth!, 'os_compute_api:os-create-backup');
    const a = obj(args);
    if (!a || typeof a.name !== 'string' || typeof a.backup_type !== 'string') {
      throw badRequest(
        "Invalid input for field/attribute createBackup. 'name' and 'backup_type' are required properties",
      );
    }
    const rotation = Number(a.rotation);
    if (!Number.isInteger(rotation) || rotation < 0)
      throw badRequest('Invalid input for field/attribute rotation.');
    if (!s.image_id) throw badRequest('Backup is not supported for volume-backed instances.');
    checkState(s, 'createBackup', ['active', 'stopped', 'paused', 'suspended']);
    const img = snapshotImageBacked(sim, ctx.auth!, s, a.name, a.metadata, { type: a.backup_type, rotation });
    return imageReply(sim, ctx, img.id);
  },
};

export function registerTransitionTasks(sim: Sim): void {
  sim.scheduler.register('server.transition', (task) => {
    const s = sim.store.state.servers[task.target];
    if (!s || s.task_state !== task.args.task_state) return; // reset or superseded meanwhile
    s.vm_state = task.args.vm_state as string;
    s.power_state = task.args.power_state as number;
    s.task_state = null;
    touchServer(s);
  });
}
