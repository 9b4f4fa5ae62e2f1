import { describe, expect, it } from 'vitest';
import { freePort, spawnService } from '../support/service-process.js';

// Acceptance 5: a bad PORT or DATABASE_URL stops start-up with a one-line message naming the variable.

async function startupFailure(env: Record<string, string>) {
  const service = spawnService(env);
  const { code } = await service.exited;
  return { code, lines: service.output().trim().split('\n') };
}

describe('start-up with a bad configuration', () => {
  it.each([
    [{ PORT: 'abc' }, /^invalid configuration: PORT: expected a port number from 0 to 65535 \(got "abc"\)$/],
    [{ PORT: '65536' }, /^invalid configuration: PORT: expected a port number/],
    [
      { DATABASE_URL: 'localhost:5432/db' },
      /^invalid configuration: DATABASE_URL: expected a URL of the form postgresql:/,
    ],
  ])('%o stops with exit code 2 and one line', async (env, message) => {
    const { code, lines } = await startupFailure(env);
    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('a DATABASE_URL nobody answers on stops start-up naming DATABASE_URL', async () => {
    const port = await freePort();
    const { code, lines } = await startupFailure({
      DATABASE_URL: `postgresql://postgres:secret@127.0.0.1:${port}/backup`,
      PORT: String(await freePort()),
    });
    expect(code).toBe(1);
    const last = lines.at(-1) ?? '';
    expect(last).toMatch(
      /^start-up failed: DATABASE_URL: cannot migrate postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/backup: /,
    );
    expect(last).not.toContain('secret');
  });
});
