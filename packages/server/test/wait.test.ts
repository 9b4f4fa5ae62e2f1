import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../src/domain/wait.js';

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
