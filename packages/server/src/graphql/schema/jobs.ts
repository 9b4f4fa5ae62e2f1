import { listScope, lookupScope } from '../../domain/visibility.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { JobKind, JobStatus } from '../../generated/prisma/enums.js';
import { jobPercent } from '../../trpc/views.js';
import { builder } from '../builder.js';
import { parseId } from '../ids.js';
import { direction, SortDirection } from './scalars.js';

export const JobStatusEnum = builder.enumType(JobStatus, { name: 'JobStatus' });
export const JobKindEnum = builder.enumType(JobKind, { name: 'JobKind' });

const JobProgress = builder
  .objectRef<{ done: number; total: number; percent: number }>('JobProgress')
  .implement({
    description: 'How far a job got: bytes done of the current data step.',
    fields: (t) => ({
      done: t.exposeFloat('done'),
      total: t.exposeFloat('total'),
      percent: t.exposeInt('percent', { description: '0–100 (100 once the job succeeded).' }),
    }),
  });

export const JobNode = builder.prismaNode('Job', {
  description: 'A persisted long operation (backup, restore, rollback, delete, verify, …) and its progress.',
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => ({ id, ...lookupScope(ctx.caller) }),
  fields: (t) => ({
    uuid: t.exposeString('id'),
    kind: t.expose('kind', { type: JobKindEnum }),
    status: t.expose('status', { type: JobStatusEnum }),
    step: t.exposeString('step', { description: 'The step running or next.' }),
    attempts: t.exposeInt('attempts'),
    progress: t.field({
      type: JobProgress,
      select: { progressDone: true, progressTotal: true, status: true },
      resolve: (job) => ({
        done: Number(job.progressDone),
        total: Number(job.progressTotal),
        percent: jobPercent(job),
      }),
    }),
    error: t.exposeString('error', { nullable: true }),
    projectId: t.exposeString('projectId'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    volumeBackup: t.relation('volumeBackup', { nullable: true }),
    instanceSnapshot: t.relation('instanceSnapshot', { nullable: true }),
    instanceBackup: t.relation('instanceBackup', { nullable: true }),
  }),
});

const JobFilter = builder.inputType('JobFilter', {
  fields: (t) => ({
    status: t.field({ type: [JobStatusEnum] }),
    kind: t.field({ type: [JobKindEnum] }),
    volumeBackupId: t.id(),
    instanceSnapshotId: t.id(),
    instanceBackupId: t.id(),
  }),
});

const JobSortField = builder.enumType('JobSortField', {
  values: ['CREATED_AT', 'UPDATED_AT', 'STATUS', 'KIND'] as const,
});
const SORT_COLUMNS = {
  CREATED_AT: 'createdAt',
  UPDATED_AT: 'updatedAt',
  STATUS: 'status',
  KIND: 'kind',
} as const;

const JobOrder = builder.inputType('JobOrder', {
  fields: (t) => ({
    field: t.field({ type: JobSortField, required: true }),
    direction: t.field({ type: SortDirection, defaultValue: 'DESC' }),
  }),
});

type JobFilterArgs = {
  allTenants?: boolean | null;
  filter?: {
    status?: JobStatus[] | null;
    kind?: JobKind[] | null;
    volumeBackupId?: string | number | null;
    instanceSnapshotId?: string | number | null;
    instanceBackupId?: string | number | null;
  } | null;
};

function listWhere(caller: Parameters<typeof listScope>[0], args: JobFilterArgs): Prisma.JobWhereInput {
  const filter = args.filter ?? {};
  return {
    ...listScope(caller, args.allTenants ?? false),
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
    ...(filter.kind?.length ? { kind: { in: filter.kind } } : {}),
    ...(filter.volumeBackupId != null
      ? { volumeBackupId: parseId(String(filter.volumeBackupId), 'VolumeBackup') }
      : {}),
    ...(filter.instanceSnapshotId != null
      ? { instanceSnapshotId: parseId(String(filter.instanceSnapshotId), 'InstanceSnapshot') }
      : {}),
    ...(filter.instanceBackupId != null
      ? { instanceBackupId: parseId(String(filter.instanceBackupId), 'InstanceBackup') }
      : {}),
  };
}

builder.queryFields((t) => ({
  jobs: t.prismaConnection({
    type: 'Job',
    cursor: 'id',
    description: "The caller's project's jobs (every project's with allTenants: admin).",
    args: {
      filter: t.arg({ type: JobFilter }),
      orderBy: t.arg({ type: JobOrder }),
      allTenants: t.arg.boolean(),
    },
    complexity: (args) => ({ field: 1, multiplier: args.first ?? args.last ?? 20 }),
    resolve: (query, _root, args, ctx) => {
      const dir = direction(args.orderBy?.direction);
      const column = SORT_COLUMNS[args.orderBy?.field ?? 'CREATED_AT'];
      return ctx.prisma.job.findMany({
        ...query,
        where: listWhere(ctx.caller, args),
        orderBy: [{ [column]: dir }, { id: dir }],
      });
    },
    totalCount: (_connection, args, ctx) => ctx.prisma.job.count({ where: listWhere(ctx.caller, args) }),
  }),

  job: t.prismaField({
    type: 'Job',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(String(args.id), 'Job');
      await ctx.core.jobQueries.get(ctx.caller, id);
      return ctx.prisma.job.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));

builder.subscriptionFields((t) => ({
  jobProgress: t.field({
    type: JobNode,
    description:
      'The job each time its status, step or progress changes, until it has finished (succeeded, failed or cancelled). Over SSE: POST /graphql with Accept: text/event-stream.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) =>
      ctx.core.jobQueries.watch(ctx.caller, parseId(String(args.id), 'Job'), {
        intervalMs: ctx.subscriptionPollMs,
      }),
    resolve: (job) => job,
  }),
}));
