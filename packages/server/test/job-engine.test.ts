import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.js';
import { Prisma } from '../src/generated/prisma/client.js';
import { JobEngine, type JobHandler } from '../src/jobs/engine.js';
import { LeaseLostError } from '../src/jobs/errors.js';
import { createLogger } from '../src/observability/logger.js';

// The engine starts a queued job as soon as nothing stands in its way, not at its next poll: the
// poll interval here is a minute, so a job that waited for one would time the test out.

const POLL_MS = 60_000;
let db: TestDatabase;
let engine: JobEngine | undefined;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await engine?.stop(5_000);
  engine = undefined;
});
afterAll(() => db?.drop());

/** A job kind whose runs record when they started and end when the test lets them. */
function gatedHandler() {
  const started = new Map<string, number>();
  const gates = new Map<string, () => void>();
  const handler: JobHandler = {
    kind: 'volume_backup_verify',
    async run(ctx) {
      started.set(ctx.job.id, Date.now());
      const open = new Promise<void>((resolve) => gates.set(ctx.job.id, resolve));
      if (ctx.step === 'start' && ctx.state.narrowKeys) {
        await ctx.advance('tidy', {}, { keys: { exclusiveKeys: [], sharedKeys: [] } });
      }
      await open;
    },
    async fail() {},
  };
  return { handler, started, open: (id: string) => gates.get(id)?.() };
}

async function enqueue(keys: string[], state: Record<string, unknown> = {}) {
  return db.prisma.$transaction((tx) =>
    JobEngine.enqueue(tx, { kind: 'volume_backup_verify', projectId: 'p', exclusiveKeys: keys, state }),
  );
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function startEngine(handler: JobHandler) {
  engine = new JobEngine({
    prisma: db.prisma,
    logger: createLogger('silent'),
    handlers: [handler],
    concurrency: 4,
    leaseMs: 30_000,
    pollMs: POLL_MS,
  });
  engine.start();
  return engine;
}

describe('the job engine', () => {
  it('starts a job held back by a conflicting one as soon as that one ends', async () => {
    const gated = gatedHandler();
    const first = await enqueue(['volume-backups:x']);
    const second = await enqueue(['volume-backups:x']);
    startEngine(gated.handler);
    await until('the first job', () => gated.started.get(first.id));
    // Long enough for the engine to have tried the second job and gone to sleep.
    await new Promise((r) => setTimeout(r, 500));
    expect(gated.started.has(second.id)).toBe(false);
    const ended = Date.now();
    gated.open(first.id);
    const startedAt = await until('the second job', () => gated.started.get(second.id));
    expect(startedAt - ended).toBeLessThan(5_000);
    gated.open(second.id);
  });

  it('starts a conflicting job once the running one gives its keys up (advance with keys)', async () => {
    const gated = gatedHandler();
    const first = await enqueue(['volume:y'], { narrowKeys: true });
    const second = await enqueue(['volume:y']);
    startEngine(gated.handler);
    // The first job is still running (its gate is closed) when the second starts.
    await until('the second job', () => gated.started.get(second.id));
    expect((await db.prisma.job.findUniqueOrThrow({ where: { id: first.id } })).status).toBe('running');
    gated.open(first.id);
    gated.open(second.id);
  });

  it('records a step with its state, keys, progress, write alongside and event at once, and nothing once the lease is lost', async () => {
    const outcome: unknown[] = [];
    await db.prisma.repository.create({ data: { id: 'repo-al', url: 'file:///tmp/al-0' } });
    const setUrl = (url: string) => (leaseHeld: Prisma.Sql) =>
      Prisma.sql`UPDATE "Repository" SET url = ${url} WHERE id = ${'repo-al'} AND ${leaseHeld}`;
    const handler: JobHandler = {
      kind: 'volume_backup_verify',
      async run(ctx) {
        await ctx.advance(
          'tidy',
          { a: 1 },
          {
            keys: { exclusiveKeys: ['volume:k2'], sharedKeys: ['repository:r'] },
            progress: { done: 5, total: 10 },
            alongside: setUrl('file:///tmp/al-1'),
          },
        );
        // Another worker took the job over meanwhile (this one's lease expired).
        await db.prisma.job.update({ where: { id: ctx.job.id }, data: { leaseOwner: 'another-worker' } });
        outcome.push(
          await ctx
            .advance('later', { b: 2 }, { alongside: setUrl('file:///tmp/al-2') })
            .catch((error: unknown) => error),
        );
      },
      async fail() {},
    };
    const job = await enqueue(['volume:k1']);
    startEngine(handler);
    const error = await until('the second advance', () => outcome[0]);
    expect(error).toBeInstanceOf(LeaseLostError);
    const row = await db.prisma.job.findUniqueOrThrow({
      where: { id: job.id },
      include: { events: { orderBy: { id: 'asc' } } },
    });
    expect(row).toMatchObject({
      step: 'tidy',
      state: { a: 1 },
      exclusiveKeys: ['volume:k2'],
      sharedKeys: ['repository:r'],
      progressDone: 5n,
      progressTotal: 10n,
      leaseOwner: 'another-worker',
    });
    expect(row.events.map((e) => [e.step, e.message, e.worker])).toEqual([
      ['start', 'started', engine!.workerId],
      ['tidy', 'step', engine!.workerId],
    ]);
    // Written with the first step, not by the advance that found the lease gone.
    expect((await db.prisma.repository.findUniqueOrThrow({ where: { id: 'repo-al' } })).url).toBe(
      'file:///tmp/al-1',
    );
  });

  it('enqueueWith: a row and its job in one statement, and no job when the write touches no row', async () => {
    const written = await JobEngine.enqueueWith<{ id: string; url: string }>(
      db.prisma,
      Prisma.sql`INSERT INTO "Repository" (id, url, "createdAt") VALUES (${'repo-ew'}, ${'file:///tmp/ew'}, ${new Date()})`,
      {
        kind: 'repository_gc',
        projectId: 'p',
        userId: 'u',
        exclusiveKeys: ['repository:repo-ew'],
        state: { why: 'test' },
        maxAttempts: 3,
      },
    );
    expect(written).toEqual([expect.objectContaining({ id: 'repo-ew', url: 'file:///tmp/ew' })]);
    const jobs = await db.prisma.job.findMany({ where: { kind: 'repository_gc' } });
    expect(jobs).toEqual([
      expect.objectContaining({
        status: 'queued',
        step: 'start',
        projectId: 'p',
        userId: 'u',
        exclusiveKeys: ['repository:repo-ew'],
        sharedKeys: [],
        state: { why: 'test' },
        attempts: 0,
        maxAttempts: 3,
      }),
    ]);
    const none = await JobEngine.enqueueWith(
      db.prisma,
      Prisma.sql`UPDATE "Repository" SET url = ${'file:///tmp/other'} WHERE id = ${'absent'}`,
      { kind: 'repository_gc', projectId: 'p' },
    );
    expect(none).toEqual([]);
    expect(await db.prisma.job.count({ where: { kind: 'repository_gc' } })).toBe(1);
  });

  it('never loses a wake-up: jobs enqueued one after another while it claims all start at once', async () => {
    const gated = gatedHandler();
    const live = startEngine(gated.handler);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      // Key per job: no conflicts; each enqueue races the claim the previous wake-up started.
      const job = await enqueue([`volume:z${i}`]);
      ids.push(job.id);
      live.wake();
      const started = await until(`job ${i}`, () => gated.started.get(job.id));
      expect(started).toBeDefined();
      gated.open(job.id);
    }
  });
});
