import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { transitionTimes, waitUntil } from '../src/domain/wait.js';

describe('waitUntil with work meanwhile', () => {
  it('starts the work once the first check finds nothing, and stops it before returning', async () => {
    const events: string[] = [];
    let checks = 0;
    const value = await waitUntil(
      'the third check',
      async () => {
        checks++;
        events.push(`check ${checks}`);
        return checks === 3 ? 'ready' : undefined;
      },
      {
        intervalMs: 5,
        meanwhile: async (signal) => {
          events.push('work started');
          while (!signal.aborted) await sleep(1);
          await sleep(20); // finishing what it was doing
          events.push('work stopped');
        },
      },
    );
    expect(value).toBe('ready');
    expect(events).toEqual(['check 1', 'work started', 'check 2', 'check 3', 'work stopped']);
  });

  it('does not start the work when the first check succeeds', async () => {
    let started = false;
    await waitUntil('something ready', async () => true, {
      meanwhile: async () => {
        started = true;
      },
    });
    expect(started).toBe(false);
  });

  it('stops the work when the wait fails, before the failure is thrown', async () => {
    let checks = 0;
    let stopped = false;
    await expect(
      waitUntil(
        'a volume Cinder fails to create',
        async () => {
          checks++;
          if (checks === 1) return undefined;
          throw new Error('Cinder could not create the volume');
        },
        {
          intervalMs: 5,
          meanwhile: async (signal) => {
            while (!signal.aborted) await sleep(1);
            stopped = true;
          },
        },
      ),
    ).rejects.toThrow('Cinder could not create the volume');
    expect(checks).toBe(2);
    expect(stopped).toBe(true);
  });
});

describe('waitUntil aimed at the usual end of a transition', () => {
  /** Cinder's format: UTC without a zone, microseconds. */
  const cinderTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000');

  /**
   * A resource created now that is ready `durationMs` later; where and how often it was asked. With
   * `callMs`, its create call takes that long, and the cloud stamps `created_at` 2 ms after it came in.
   */
  async function waitFor(
    kind: string,
    durationMs: number,
    options: { begun?: boolean; callMs?: number } = {},
  ) {
    const sentAt = Date.now();
    const createdAt = sentAt + (options.callMs ? 2 : 0);
    if (options.callMs) await sleep(options.callMs);
    const begun = { after: sentAt, by: Date.now() };
    const checks: number[] = [];
    await waitUntil(
      `a ${durationMs} ms transition`,
      async () => {
        checks.push(Date.now() - createdAt);
        if (Date.now() < createdAt + durationMs) return undefined;
        return { created_at: cinderTime(createdAt), updated_at: cinderTime(createdAt + durationMs) };
      },
      {
        intervalMs: 400,
        transition: { kind, begun: options.begun === false ? undefined : begun, timestamps: (r) => r },
      },
    );
    return { checks, elapsed: Date.now() - createdAt };
  }

  it('polls just after the time the last transitions of its kind took, by their own timestamps', async () => {
    transitionTimes.forget();
    // No history: the backoff alone (at 0 and 400 ms).
    const first = await waitFor('snapshot create', 150);
    expect(first.checks).toHaveLength(2);
    expect(first.elapsed).toBeGreaterThanOrEqual(400);
    // 150 ms learnt from the timestamps: asked at 0 and at ~153 ms.
    const second = await waitFor('snapshot create', 150);
    expect(second.checks).toHaveLength(2);
    expect(second.checks[1]).toBeGreaterThanOrEqual(150);
    expect(second.elapsed).toBeLessThan(250);
    // Longer than usual: the first aim misses, the second (~176 ms) finds it.
    const third = await waitFor('snapshot create', 165);
    expect(third.checks).toHaveLength(3);
    expect(third.elapsed).toBeLessThan(250);
  });

  it('keeps kinds apart, and neither aims nor learns when it does not know when a transition began', async () => {
    transitionTimes.forget();
    await waitFor('volume create', 100);
    const otherKind = await waitFor('snapshot create', 100);
    expect(otherKind.elapsed).toBeGreaterThanOrEqual(400);
    const unknownStart = await waitFor('volume create', 100, { begun: false });
    expect(unknownStart.elapsed).toBeGreaterThanOrEqual(400);
    const known = await waitFor('volume create', 100);
    expect(known.checks).toHaveLength(2);
    expect(known.elapsed).toBeLessThan(250);
    // Not learnt (it would make the median 300 ms): the next is still found at ~103 ms.
    await waitFor('snapshot create', 300, { begun: false });
    const snapshot = await waitFor('snapshot create', 100);
    expect(snapshot.checks).toHaveLength(2);
    expect(snapshot.elapsed).toBeLessThan(250);
  });

  it('aims first at the earliest end its create call allows (sent + typical), then at the latest (answered + typical)', async () => {
    transitionTimes.forget();
    await waitFor('snapshot create', 150);
    // The call took 40 ms and the transition began 2 ms into it: ready at ~152 ms by `created_at`.
    // Found by the aim at sent + 153 ms; the one at answered + 153 ms (~191 ms) is not needed.
    const slowCall = await waitFor('snapshot create', 150, { callMs: 40 });
    expect(slowCall.checks).toHaveLength(2);
    expect(slowCall.checks[1]).toBeGreaterThanOrEqual(150);
    expect(slowCall.elapsed).toBeLessThan(180);
  });
});
