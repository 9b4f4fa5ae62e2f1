import { type Caller, canWrite } from '../../auth/caller.js';
import type { Db } from '../../db/client.js';
import { JobEngine } from '../../jobs/engine.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { holdUntil, releaseHeldJob } from '../held-jobs.js';
import { rollbackKeys } from '../volume-backups/locks.js';
import { lockInstances, runningInstances, unlockInstances } from './instance-locks.js';

export interface RollbackAccepted {
  volume_id: string;
  snapshot_id: string;
  job_id: string;
}

interface Deps {
  prisma: Db;
  cloud: OpenStackCloud;
  wakeJobs(): void;
  /** Timeout of one OpenStack call: how long a held job waits for its request. */
  holdTimeoutMs: number;
}

/**
 * Rolls a volume back to any of its snapshots (not only the newest), also when it is attached —
 * the boot volume included — as long as every instance using it is stopped (SPEC §5.3).
 */
export class VolumeRollbackService {
  constructor(private readonly deps: Deps) {}

  async rollback(caller: Caller, volumeId: string, snapshotId: string): Promise<RollbackAccepted> {
    if (!canWrite(caller))
      throw forbidden("Policy doesn't allow volume:rollback to be performed: the reader role may only read.");
    const { cloud } = this.deps;
    const cinder = cloud.cinderAuthFor(caller);
    const volume = await cloud.cinder.getVolume(cinder, volumeId);
    if (!volume) throw notFound(`Volume ${volumeId} could not be found.`);
    const snapshot = await cloud.cinder.getSnapshot(cinder, snapshotId);
    if (!snapshot) throw notFound(`Snapshot ${snapshotId} could not be found.`);
    if (snapshot.volume_id !== volume.id) {
      throw badRequest(
        `Invalid snapshot: snapshot ${snapshotId} is a snapshot of volume ${snapshot.volume_id}, not of ${volumeId}.`,
      );
    }
    if (snapshot.status !== 'available') {
      throw conflict(`Snapshot ${snapshotId} is ${snapshot.status}; a rollback needs it available.`);
    }

    const serverIds = [
      ...new Set(volume.attachments.map((a) => a.server_id).filter((id): id is string => !!id)),
    ];
    if (volume.status === 'in-use') {
      await this.refuseRunning(volumeId, serverIds);
    } else if (volume.status !== 'available') {
      throw conflict(
        `Volume ${volumeId} is ${volume.status}: a rollback needs it available, or in-use with every instance stopped.`,
      );
    }

    // With instances, the job is enqueued held: the instances are locked before the caller hears 201,
    // so nobody starts one between the answer and the job (the job's own lock step then finds them).
    const held = serverIds.length > 0;
    const job = await this.deps.prisma.$transaction(async (tx) => {
      // One decision per volume at a time: a second request sees the first one's job.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`volume:${volumeId}`}))`;
      const keys = [`volume:${volumeId}`, ...serverIds.map((id) => `instance:${id}`)];
      const busy = await tx.job.findFirst({
        where: {
          status: { in: ['queued', 'running'] },
          OR: [{ exclusiveKeys: { hasSome: keys } }, { sharedKeys: { hasSome: keys } }],
        },
      });
      if (busy) {
        const what = busy.exclusiveKeys.concat(busy.sharedKeys).includes(`volume:${volumeId}`)
          ? `Volume ${volumeId}`
          : `An instance of volume ${volumeId}`;
        throw conflict(
          `${what} is busy: ${busy.kind.replaceAll('_', ' ')} job ${busy.id} is ${busy.status}. Try the rollback again when it has finished.`,
        );
      }
      return JobEngine.enqueue(tx, {
        kind: 'volume_rollback',
        projectId: caller.projectId,
        userId: caller.userId,
        ...rollbackKeys({ volumeId, instanceIds: serverIds }),
        state: { volumeId, snapshotId, formerStatus: volume.status, serverIds },
        maxAttempts: 10,
        runAfter: held ? holdUntil(this.deps.holdTimeoutMs) : undefined,
      });
    });
    if (held) await this.lockBeforeAnswering(job.id, volumeId, serverIds);
    this.deps.wakeJobs();
    return { volume_id: volumeId, snapshot_id: snapshotId, job_id: job.id };
  }

  private async refuseRunning(volumeId: string, serverIds: string[]) {
    const running = await runningInstances(this.deps.cloud, serverIds);
    if (running.length > 0) {
      throw conflict(
        `Volume ${volumeId} is attached to running instance ${running.join(', ')}: stop ${running.length > 1 ? 'them' : 'it'} first (os-stop), then roll back.`,
      );
    }
  }

  /**
   * Locks the instances, checks they are still stopped, then lets the held job run. Anything going
   * wrong here undoes the lock and voids the job: the rollback did not start.
   */
  private async lockBeforeAnswering(jobId: string, volumeId: string, serverIds: string[]) {
    const { cloud, prisma } = this.deps;
    let locked: string[] = [];
    try {
      locked = await lockInstances(cloud, serverIds);
      await this.refuseRunning(volumeId, serverIds);
    } catch (error) {
      await prisma.job.updateMany({
        where: { id: jobId, status: 'queued' },
        data: { status: 'cancelled', finishedAt: new Date(), error: 'the rollback request failed' },
      });
      await unlockInstances(cloud, locked).catch(() => {});
      throw error;
    }
    await releaseHeldJob(prisma, jobId, { lockedByUs: locked });
  }
}
