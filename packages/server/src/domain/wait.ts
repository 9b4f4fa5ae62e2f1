import { setTimeout as sleep } from 'node:timers/promises';
import { JobFailedError } from '../jobs/errors.js';

/**
 * Waits between polls of a Cinder or Nova transition: 25 ms first, half as long again each time, at
 * most 2 s. A thin snapshot or an empty volume is ready in a fraction of a second and is seen within
 * a few tens of ms of it; a minutes-long transition costs a poll every 2 s.
 */
const FIRST_POLL_MS = 25;
const nextPollMs = (previousMs: number) => Math.min(previousMs * 1.5, 2_000);

/**
 * Polls until `check` returns a value (not undefined). Cinder and Nova work asynchronously; their
 * resources pass through transitional statuses that we wait out here.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: {
    signal?: AbortSignal;
    timeoutMs?: number;
    intervalMs?: number;
    /** Work worth doing while the wait lasts: started when the first check finds nothing. */
    meanwhile?: Meanwhile;
    /** The transition waited for: also polled for when such transitions usually end. */
    transition?: Transition<T>;
  } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  let interval = options.intervalMs ?? FIRST_POLL_MS;
  let nextRegularPoll = Date.now();
  const aims = options.transition ? transitionTimes.aimsFor(options.transition) : [];
  let stopMeanwhile: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const value = await check();
      if (value !== undefined) {
        if (options.transition) transitionTimes.record(options.transition, value);
        return value;
      }
      const now = Date.now();
      if (now > deadline) throw new JobFailedError(`timed out waiting for ${what}`);
      if (options.meanwhile) stopMeanwhile ??= startMeanwhile(options.meanwhile);
      if (nextRegularPoll <= now) {
        nextRegularPoll = now + interval;
        interval = nextPollMs(interval);
      }
      while (aims.length > 0 && aims[0]! <= now) aims.shift();
      const wakeAt = Math.min(nextRegularPoll, aims[0] ?? Number.POSITIVE_INFINITY);
      await sleep(wakeAt - now, undefined, { signal: options.signal });
    }
  } finally {
    await stopMeanwhile?.();
  }
}

/** Work done while waiting for something else; stops at the signal and never rejects. */
export type Meanwhile = (signal: AbortSignal) => Promise<unknown>;

/** Starts `work`; the returned function stops it and resolves once it has stopped. */
function startMeanwhile(work: Meanwhile): () => Promise<void> {
  const stop = new AbortController();
  const running = work(stop.signal);
  return async () => {
    stop.abort();
    await running;
  };
}

/**
 * A transition of an OpenStack resource (e.g. a Cinder snapshot from `creating` to `available`).
 * Without this, the backoff above sees the end of a 200 ms transition up to ~100 ms late (40 ms
 * typically); with it, a wait also polls just after the time such transitions took lately.
 */
export interface Transition<T> {
  /** Transitions of one kind take similar times (e.g. `cinder snapshot create`). */
  kind: string;
  /**
   * When it began (`timeStart`). Unknown (a resumed job, a volume that existed before): no aim, and
   * its times are not learnt either.
   */
  begun?: TransitionStart;
  /** The finished resource's own timestamps: its creation and its last status change. */
  timestamps(value: T): { created_at?: string | null; updated_at?: string | null } | undefined;
}

/**
 * When a transition began, by our clock: after its create call was sent, and by the time the call
 * answered (the cloud stamps `created_at` in between).
 */
export interface TransitionStart {
  after: number;
  by: number;
}

/** Makes the create call that starts a transition, and says when the transition began. */
export async function timeStart<T>(
  create: () => Promise<T>,
): Promise<{ created: T; begun: TransitionStart }> {
  const after = Date.now();
  const created = await create();
  return { created, begun: { after, by: Date.now() } };
}

/** Polls aimed at these multiples of the typical duration (a later end costs one more poll). */
const AIM_FACTORS = [1, 1.15];
/** After the typical end: the resource's service records it a moment before its API shows it. */
const AIM_MARGIN_MS = 3;
/** Aims closer than this to the one before are one poll. */
const MIN_AIM_GAP_MS = 2;
const KEPT_DURATIONS = 9;

/**
 * What transitions of each kind took lately in this process, by the cloud's own timestamps
 * (created_at to updated_at: one clock, so the skew between it and ours does not matter).
 */
class TransitionTimes {
  private readonly durations = new Map<string, number[]>();

  /** Learns from a finished transition, if its wait knew when it began. */
  record<T>(transition: Transition<T>, value: T): void {
    if (transition.begun === undefined) return;
    const stamps = transition.timestamps(value);
    if (!stamps?.created_at || !stamps.updated_at) return;
    // Cinder writes UTC without a zone: both parse the same way, so their difference is right.
    const ms = Date.parse(stamps.updated_at) - Date.parse(stamps.created_at);
    if (!Number.isFinite(ms) || ms < 0) return;
    const kept = this.durations.get(transition.kind) ?? [];
    kept.push(ms);
    if (kept.length > KEPT_DURATIONS) kept.shift();
    this.durations.set(transition.kind, kept);
  }

  /** Times (our clock, ascending) at which to poll besides the backoff; none without a history. */
  aimsFor<T>(transition: Transition<T>): number[] {
    const kept = this.durations.get(transition.kind);
    if (transition.begun === undefined || !kept?.length) return [];
    const typical = median(kept);
    const { after, by } = transition.begun;
    // The earliest typical end (`created_at` stamped as the call came in), the latest (as it
    // answered: the call itself took ~6 ms against the simulator), and a later one.
    const ends = [after + typical, ...AIM_FACTORS.map((factor) => by + typical * factor)];
    const aims: number[] = [];
    for (const end of ends) {
      const aim = end + AIM_MARGIN_MS;
      if (aims.length === 0 || aim - aims[aims.length - 1]! >= MIN_AIM_GAP_MS) aims.push(aim);
    }
    return aims;
  }

  forget(): void {
    this.durations.clear();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export const transitionTimes = new TransitionTimes();
