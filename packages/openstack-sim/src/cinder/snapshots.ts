import type { AuthContext } from '../common/auth.js';
import { uuid } from '../common/ids.js';
import { nowIso } from '../common/time.js';
import type { Sim } from '../sim/context.js';
import type { Snapshot, Volume } from '../state/types.js';
import { invalidInput, invalidSnapshot, invalidVolume } from './policy.js';
import { parseMetadata, touch } from './volumes.js';

/** oslo strutils.bool_from_string(strict=True). */
export function parseBool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
    if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  }
  throw invalidInput(`Invalid value '${String(v)}' for ${field}`);
}

/**
 * POST /snapshots. The copy is taken now, under the volume's lock, so the snapshot holds exactly
 * the data written before this request; the status then goes creating → available. The snapshot
 * belongs to the caller's project (an admin's snapshot of another project's volume is the admin's).
 */
export async function createSnapshot(
  sim: Sim,
  auth: AuthContext,
  volume: Volume,
  input: { name?: unknown; description?: unknown; force?: unknown; metadata?: unknown },
): Promise<Snapshot> {
  const force = parseBool(input.force, 'force');
  if (!force && volume.status !== 'available') {
    throw invalidVolume(
      `Volume ${volume.id} status must be available, but current status is: ${volume.status}.`,
    );
  }
  if (force && !['available', 'in-use'].includes(volume.status)) {
    throw invalidVolume(
      `Volume ${volume.id} status must be available or in-use, but current status is: ${volume.status}.`,
    );
  }
  const str = (v: unknown, f: string) => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') throw invalidInput(`${f} must be a string`);
    return v;
  };
  const snap: Snapshot = {
    id: uuid(),
    volume_id: volume.id,
    project_id: auth.projectId,
    user_id: auth.userId,
    name: str(input.name, 'name'),
    description: str(input.description, 'description'),
    status: 'creating',
    size: volume.size,
    metadata: parseMetadata(input.metadata),
    progress: '0%',
    created_at: nowIso(),
    updated_at: null,
  };
  // Recorded first, so the volume cannot be deleted while the copy runs.
  sim.store.state.snapshots[snap.id] = snap;
  const key = snap.name ?? snap.id;
  sim.stats.snapshotsCreated.set(key, (sim.stats.snapshotsCreated.get(key) ?? 0) + 1);
  try {
    await sim.files.takeSnapshot(volume.id, snap.id);
  } catch (err) {
    sim.logger.info({ err }, 'snapshot copy failed');
    snap.status = 'error';
    return snap;
  }
  sim.scheduler.schedule('snapshot.create', snap.id);
  return snap;
}

export function deleteSnapshot(sim: Sim, snap: Snapshot, force: boolean): void {
  if (!force && snap.status !== 'available' && snap.status !== 'error') {
    throw invalidSnapshot(
      'Volume Snapshot status must be available or error and must not be part of a group.',
    );
  }
  snap.status = 'deleting';
  touch(snap);
  sim.scheduler.schedule('snapshot.delete', snap.id);
}

export function registerSnapshotTasks(sim: Sim): void {
  sim.scheduler.register('snapshot.create', (task) => {
    const s = sim.store.state.snapshots[task.target];
    if (s?.status !== 'creating') return;
    s.status = 'available';
    s.progress = '100%';
    touch(s);
  });

  sim.scheduler.register('snapshot.delete', async (task) => {
    const s = sim.store.state.snapshots[task.target];
    if (!s) return;
    await sim.files.deleteSnapshot(s.id, s.volume_id);
    delete sim.store.state.snapshots[s.id];
  });
}
