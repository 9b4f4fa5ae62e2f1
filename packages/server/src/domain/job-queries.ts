import type { Caller } from '../auth/caller.js';
import type { Db } from '../db/client.js';
import type { Job, JobKind, JobStatus, Prisma } from '../generated/prisma/client.js';
import { notFound } from './errors.js';
import { keysetPage, type PageRequest } from './pagination.js';
import { listScope, lookupScope } from './visibility.js';

export const JOB_SORT_KEYS = ['created_at', 'updated_at', 'status', 'kind', 'id'] as const;
export type JobSortKey = (typeof JOB_SORT_KEYS)[number];

const SORT_COLUMNS: Record<JobSortKey, { name: string; nullable: boolean }> = {
  created_at: { name: 'createdAt', nullable: false },
  updated_at: { name: 'updatedAt', nullable: false },
  status: { name: 'status', nullable: false },
  kind: { name: 'kind', nullable: false },
  id: { name: 'id', nullable: false },
};

export interface ListJobsQuery {
  page: PageRequest<JobSortKey>;
  status?: JobStatus[];
  kind?: JobKind[];
  volumeBackupId?: string;
  instanceSnapshotId?: string;
  instanceBackupId?: string;
  allTenants?: boolean;
}

/** Statuses after which a job changes no more. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

/**
 * Reads of the persisted jobs (SPEC §7): what runs, how far it got (bytes done of total), how it
 * ended. Scoped like every other read: a job belongs to the project it works for.
 */
export class JobQueryService {
  constructor(private readonly deps: { prisma: Db }) {}

  async list(caller: Caller, query: ListJobsQuery): Promise<{ jobs: Job[]; more: boolean }> {
    const scope = listScope(caller, query.allTenants);
    const filters: Prisma.JobWhereInput = {
      ...scope,
      ...(query.status?.length ? { status: { in: query.status } } : {}),
      ...(query.kind?.length ? { kind: { in: query.kind } } : {}),
      ...(query.volumeBackupId ? { volumeBackupId: query.volumeBackupId } : {}),
      ...(query.instanceSnapshotId ? { instanceSnapshotId: query.instanceSnapshotId } : {}),
      ...(query.instanceBackupId ? { instanceBackupId: query.instanceBackupId } : {}),
    };
    const { rows, more } = await keysetPage(query.page, SORT_COLUMNS[query.page.sort.key], {
      marker: (id) => this.deps.prisma.job.findFirst({ where: { ...scope, id } }),
      rows: ({ where, orderBy, take }) =>
        this.deps.prisma.job.findMany({
          where: { AND: [filters, where as Prisma.JobWhereInput] },
          orderBy: orderBy as Prisma.JobOrderByWithRelationInput[],
          take,
        }),
    });
    return { jobs: rows, more };
  }

  async get(caller: Caller, id: string): Promise<Job> {
    const job = await this.deps.prisma.job.findFirst({ where: { id, ...lookupScope(caller) } });
    if (!job) throw notFound(`Job ${id} could not be found.`);
    return job;
  }

  /**
   * Yields the job each time its status, step or progress changed, until it is final. It polls the
   * database, because the job may run on another replica (an in-process event would miss it).
   */
  async *watch(
    caller: Caller,
    id: string,
    options: { intervalMs: number; signal?: AbortSignal },
  ): AsyncGenerator<Job> {
    let last = '';
    for (;;) {
      options.signal?.throwIfAborted();
      const job = await this.get(caller, id);
      const seen = `${job.status}|${job.step}|${job.progressDone}|${job.progressTotal}`;
      if (seen !== last) {
        last = seen;
        yield job;
      }
      if (FINAL_JOB_STATUSES.includes(job.status)) return;
      await sleep(options.intervalMs, options.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal) {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
