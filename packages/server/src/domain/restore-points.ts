import type { Caller } from '../auth/caller.js';
import type { Db } from '../db/client.js';
import type { OpenStackCloud } from '../openstack/cloud.js';
import { notFound } from './errors.js';
import { lookupScope } from './visibility.js';

/**
 * A point in time a volume can be brought back to: a backup (restore, into this or a new volume) or
 * one of its Cinder snapshots (rollback, SPEC §5.3).
 */
export type RestorePoint =
  | {
      kind: 'backup';
      id: string;
      name: string | null;
      /** When the data was taken (the backup's creation while it has no data timestamp). */
      pointInTime: Date;
      status: string;
      sizeGb: number;
      isIncremental: boolean;
    }
  | {
      kind: 'snapshot';
      id: string;
      name: string | null;
      pointInTime: Date | null;
      status: string;
      sizeGb: number;
      isIncremental: false;
    };

const USABLE_BACKUP_STATUSES = ['available', 'restoring'] as const;

/** A volume's restore points, newest first: its usable backups and its available snapshots. */
export class RestorePointService {
  constructor(private readonly deps: { prisma: Db; cloud: OpenStackCloud }) {}

  async list(caller: Caller, volumeId: string): Promise<RestorePoint[]> {
    const { cloud, prisma } = this.deps;
    const cinder = cloud.cinderAuthFor(caller);
    // Cinder decides whether the caller may see the volume (404 otherwise), as for a backup of it.
    const volume = await cloud.cinder.getVolume(cinder, volumeId);
    if (!volume) throw notFound(`Volume ${volumeId} could not be found.`);
    const [backups, snapshots] = await Promise.all([
      prisma.volumeBackup.findMany({
        where: { volumeId, status: { in: [...USABLE_BACKUP_STATUSES] }, ...lookupScope(caller) },
        select: {
          id: true,
          name: true,
          status: true,
          sizeGb: true,
          isIncremental: true,
          dataTimestamp: true,
          createdAt: true,
        },
      }),
      cloud.cinder.listSnapshots(cinder, { volumeId }),
    ]);
    const points: RestorePoint[] = [
      ...backups.map((b) => ({
        kind: 'backup' as const,
        id: b.id,
        name: b.name,
        pointInTime: b.dataTimestamp ?? b.createdAt,
        status: b.status,
        sizeGb: b.sizeGb,
        isIncremental: b.isIncremental,
      })),
      ...snapshots
        .filter((s) => s.volume_id === volumeId && s.status === 'available')
        .map((s) => ({
          kind: 'snapshot' as const,
          id: s.id,
          name: s.name ?? null,
          pointInTime: s.created_at ? cinderDate(s.created_at) : null,
          status: s.status,
          sizeGb: s.size,
          isIncremental: false as const,
        })),
    ];
    return points.sort((a, b) => (b.pointInTime?.getTime() ?? 0) - (a.pointInTime?.getTime() ?? 0));
  }
}

/** Cinder writes naive UTC timestamps (2023-06-23T11:56:08.691468). */
function cinderDate(value: string): Date {
  return new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`);
}
