import { type AuthContext, canSee } from '../common/auth.js';
import { conflict, forbidden, notFound } from '../common/errors.js';
import type { Sim } from '../sim/context.js';
import type { Server } from '../state/types.js';

export const denied = (rule: string) => forbidden(`Policy doesn't allow ${rule} to be performed.`);

export function requireWriter(auth: AuthContext, rule: string): void {
  if (!auth.canWrite) throw denied(rule);
}

export function requireAdmin(auth: AuthContext, rule: string): void {
  if (!auth.isAdmin) throw denied(rule);
}

/** Owner or admin (any project's server by id); others get the same 404 as for an unknown id. */
export function findServer(sim: Sim, auth: AuthContext, id: string): Server {
  const s = sim.store.state.servers[id];
  if (!s || !canSee(auth, s.project_id)) throw notFound(`Instance ${id} could not be found.`);
  return s;
}

/** compute/api.py `check_instance_lock`: a locked server refuses non-admins. */
export function checkLock(auth: AuthContext, s: Server): void {
  if (s.locked && !auth.isAdmin) throw conflict(`Instance ${s.id} is locked`);
}

/**
 * compute/api.py `check_instance_state` as the API reports it (409, common.py
 * raise_http_conflict_for_instance_invalid_state).
 */
export function checkState(
  s: Server,
  action: string,
  vmStates: string[],
  taskStates: Array<string | null> = [null],
): void {
  if (!vmStates.includes(s.vm_state)) {
    throw conflict(`Cannot '${action}' instance ${s.id} while it is in vm_state ${s.vm_state}`);
  }
  if (!taskStates.includes(s.task_state)) {
    throw conflict(`Cannot '${action}' instance ${s.id} while it is in task_state ${s.task_state}`);
  }
}
