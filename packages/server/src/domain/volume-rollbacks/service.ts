import { type Caller, canWrite } from '../../auth/caller.js';
import type { Db } from '../../db/client.js';
import { JobEngine } from '../../jobs/engine.js';
import type { OpenStackCloud } from '../../openstack/cloud.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { rollbackKeys } from '../volume-backups/locks.js';

export interface RollbackAccepted {
  volume_id: string;
  snapshot_id: string;
  job_id: string;
}

interface Deps {
  prisma: Db;
  cloud: OpenStackCloud;
  wakeJobs(): void;
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
      const running = await cloud.asService(async ({ nova }) => {
        const servers = await Promise.all(serverIds.map((id) => cloud.nova.getServer(nova, id)));
        return servers.filter((server) => server && server.status !== 'SHUTOFF');
      });
      if (running.length > 0) {
        const names = running.map((s) => `${s?.id} (${s?.status})`).join(', ');
        throw conflict(
          `Volume ${volumeId} is attached to running instance ${names}: stop ${running.length > 1 ? 'them' : 'it'} first (os-stop), then roll back.`,
        );
      }
    } else if (volume.status !== 'available') {
      throw conflict(
        `Volume ${volumeId} is ${volume.status}: a rollback needs it available, or in-use with every instance stopped.`,
      );
    }

    const job = await this.deps.prisma.$transaction(async (tx) => {
      // One decision per volume at a time: a second request sees the first one's job.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`volume:${volumeId}`}))`;
      const busy = await tx.job.findFirst({
        where: {
          status: { in: ['queued', 'running'] },
          OR: [
            { exclusiveKeys: { has: `volume:${volumeId}` } },
            { sharedKeys: { has: `volume:${volumeId}` } },
          ],
        },
      });
      if (busy) {
        throw conflict(
          `Volume ${volumeId} is busy: ${busy.kind.replaceAll('_', ' ')} job ${busy.id} is ${busy.status}. Try the rollback again when it has finished.`,
        );
      }
      return JobEngine.enqueue(tx, {
        kind: 'volume_rollback',
        projectId: caller.projectId,
        userId: caller.userId,
        ...rollbackKeys({ volumeId }),
        state: { volumeId, snapshotId, formerStatus: volume.status, serverIds },
        maxAttempts: 10,
      });
    });
    this.deps.wakeJobs();
    return { volume_id: volumeId, snapshot_id: snapshotId, job_id: job.id };
  }
}
