import { type AuthContext, canSee } from '../common/auth.js';
import { ApiError, forbidden, notFound } from '../common/errors.js';
import type { Sim } from '../sim/context.js';
import type { Attachment, Snapshot, Volume } from '../state/types.js';

/** Cinder's policy denial: `{"forbidden": {"code": 403, "message": "Policy doesn't allow X to be performed."}}`. */
export const denied = (rule: string) => forbidden(`Policy doesn't allow ${rule} to be performed.`);

/** Writes need member or admin; a reader token only reads. */
export function requireWriter(auth: AuthContext, rule: string): void {
  if (!auth.canWrite) throw denied(rule);
}

export function requireAdmin(auth: AuthContext, rule: string): void {
  if (!auth.isAdmin) throw denied(rule);
}

/** Owner or admin; anyone else gets the same 404 as for an unknown id. */
export function findVolume(sim: Sim, auth: AuthContext, id: string): Volume {
  const v = sim.store.state.volumes[id];
  if (!v || !canSee(auth, v.project_id)) throw notFound(`Volume ${id} could not be found.`);
  return v;
}

export function findSnapshot(sim: Sim, auth: AuthContext, id: string): Snapshot {
  const s = sim.store.state.snapshots[id];
  if (!s || !canSee(auth, s.project_id)) throw notFound(`Snapshot ${id} could not be found.`);
  return s;
}

export function findAttachment(sim: Sim, auth: AuthContext, id: string): Attachment {
  const a = sim.store.state.attachments[id];
  if (!a || !canSee(auth, a.project_id)) {
    throw notFound(`Volume attachment could not be found with filter: attachment_id = ${id}.`);
  }
  return a;
}

export const invalidVolume = (reason: string) => new ApiError(400, `Invalid volume: ${reason}`);
export const invalidSnapshot = (reason: string) => new ApiError(400, `Invalid snapshot: ${reason}`);
export const invalidInput = (reason: string) => new ApiError(400, `Invalid input received: ${reason}`);
