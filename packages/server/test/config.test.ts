import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.js';

describe('loadConfig', () => {
  it('gives the embedded defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8110);
    expect(config.DATA_DIR).toBe('./data');
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it.each([
    ['PORT', 'abc', /^invalid configuration: PORT: expected a port number from 0 to 65535 \(got "abc"\)$/],
    ['PORT', '70000', /^invalid configuration: PORT: expected a port number from 0 to 65535/],
    ['PORT', '80.5', /PORT: expected a port number/],
    [
      'DATABASE_URL',
      'mysql://x@y/z',
      /^invalid configuration: DATABASE_URL: expected a URL of the form postgresql:/,
    ],
    ['DATABASE_URL', 'not a url', /DATABASE_URL: expected a URL/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of fatal, error/],
  ])('rejects %s=%s with one line naming the variable', (variable, value, message) => {
    const attempt = () => loadConfig({ [variable]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('never prints a password of an invalid URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:secret@db/x' })).toThrow(
      /mysql:\/\/user:\*\*\*@db\/x/,
    );
  });

  it('reads a JSON file named by CONFIG_FILE, environment variables winning', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ PORT: 9000, LOG_LEVEL: 'debug' }));
    const config = loadConfig({ CONFIG_FILE: file, LOG_LEVEL: 'warn' });
    expect(config.PORT).toBe(9000);
    expect(config.LOG_LEVEL).toBe('warn');
  });

  it('rejects an unknown variable in the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'config-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ PROT: 9000 }));
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow('CONFIG_FILE: unknown variable PROT');
  });
});
