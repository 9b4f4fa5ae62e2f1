// Which jobs may run together, in one place. A job holds some keys alone (exclusive) and shares
// others; the job engine never runs two jobs whose keys conflict, and runs conflicting ones in the
// order they were requested.
//
// volume:<id>          the volume's data: rollback and restore-into write it (exclusive); backups read
//                      a snapshot of it (shared), so a rollback waits for running backups and vice versa
// volume-backups:<id>  one backup of a volume at a time, so each incremental builds on the one before
// backup:<id>          a backup's data: deletion is exclusive; restore and verify share it
// repository:<id>      garbage collection is exclusive; everything that reads or writes chunks shares it
// instance:<id>        an instance's snapshot, backup or the rollback of one of its volumes, one at a
//                      time (see ../instances/locks.ts)
//
// A backup holds its keys until its data is in and the backup is available; waiting for Cinder to
// remove its temporary snapshot afterwards holds none (housekeepingKeys).

import type { JobKeys as Keys } from '../../jobs/engine.js';

export const backupKeys = (k: { backupId: string; volumeId: string; repositoryId: string }): Keys => ({
  exclusiveKeys: [`backup:${k.backupId}`, `volume-backups:${k.volumeId}`],
  sharedKeys: [`volume:${k.volumeId}`, `repository:${k.repositoryId}`],
});

export const restoreKeys = (k: { backupId: string; volumeId: string; repositoryId: string }): Keys => ({
  exclusiveKeys: [`volume:${k.volumeId}`],
  sharedKeys: [`backup:${k.backupId}`, `repository:${k.repositoryId}`],
});

export const verifyKeys = (k: { backupId: string; repositoryId: string }): Keys => ({
  exclusiveKeys: [],
  sharedKeys: [`backup:${k.backupId}`, `repository:${k.repositoryId}`],
});

export const deleteKeys = (k: { backupId: string; repositoryId: string }): Keys => ({
  exclusiveKeys: [`backup:${k.backupId}`],
  sharedKeys: [`repository:${k.repositoryId}`],
});

export const gcKeys = (k: { repositoryId: string }): Keys => ({
  exclusiveKeys: [`repository:${k.repositoryId}`],
  sharedKeys: [],
});

/** A rollback also holds the instances using the volume: their Nova lock is the rollback's. */
export const rollbackKeys = (k: { volumeId: string; instanceIds?: string[] }): Keys => ({
  exclusiveKeys: [`volume:${k.volumeId}`, ...(k.instanceIds ?? []).map((id) => `instance:${id}`)],
  sharedKeys: [],
});

/** What a job holds while it only waits for Cinder to finish tidying up: nothing. */
export const housekeepingKeys: Keys = { exclusiveKeys: [], sharedKeys: [] };
