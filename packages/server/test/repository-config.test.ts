import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { repositorySettingsFromConfig } from '../src/dataplane/repository-settings.js';

// The repository key (REPOSITORY_KEY / REPOSITORY_KEY_FILE) and S3/Swift settings are checked at
// start-up: a bad value is one clear line, never a surprise at the first backup.

describe('repository configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'repository-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes a key as hex, base64 or a file of either or of 32 raw bytes', async () => {
    const key = randomBytes(32);
    expect(repositorySettingsFromConfig(loadConfig({ REPOSITORY_KEY: key.toString('hex') })).key).toEqual(
      key,
    );
    expect(repositorySettingsFromConfig(loadConfig({ REPOSITORY_KEY: key.toString('base64') })).key).toEqual(
      key,
    );
    expect(
      repositorySettingsFromConfig(loadConfig({ REPOSITORY_KEY: key.toString('base64url') })).key,
    ).toEqual(key);
    const text = path.join(dir, 'text.key');
    await writeFile(text, `${key.toString('base64')}\n`);
    expect(repositorySettingsFromConfig(loadConfig({ REPOSITORY_KEY_FILE: text })).key).toEqual(key);
    const raw = path.join(dir, 'raw.key');
    await writeFile(raw, key);
    expect(repositorySettingsFromConfig(loadConfig({ REPOSITORY_KEY_FILE: raw })).key).toEqual(key);
    expect(repositorySettingsFromConfig(loadConfig({})).key).toBeNull();
  });

  it('refuses a bad key, a missing key file, both at once, and incomplete credentials, in one line', async () => {
    expect(() => loadConfig({ REPOSITORY_KEY: 'too-short' })).toThrow(
      /REPOSITORY_KEY: expected a 32-byte key as 64 hex digits or base64 .*\(got "\*\*\*"\)/,
    );
    expect(() => loadConfig({ REPOSITORY_KEY_FILE: path.join(dir, 'missing.key') })).toThrow(
      /REPOSITORY_KEY_FILE: cannot read/,
    );
    const bad = path.join(dir, 'bad.key');
    await writeFile(bad, 'not a key at all');
    expect(() => loadConfig({ REPOSITORY_KEY_FILE: bad })).toThrow(
      /REPOSITORY_KEY_FILE: expected a 32-byte key/,
    );
    const both = { REPOSITORY_KEY: randomBytes(32).toString('hex'), REPOSITORY_KEY_FILE: bad };
    expect(() => loadConfig(both)).toThrow(/set either REPOSITORY_KEY or REPOSITORY_KEY_FILE, not both/);
    expect(() => loadConfig({ SWIFT_AUTH_URL: 'http://keystone:5000/v3' })).toThrow(ConfigError);
    expect(() => loadConfig({ S3_ACCESS_KEY_ID: 'id' })).toThrow(
      /S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together/,
    );
    expect(() => loadConfig({ S3_FORCE_PATH_STYLE: 'yes' })).toThrow(
      /S3_FORCE_PATH_STYLE: expected true or false/,
    );
  });

  it('passes S3 and Swift settings on', () => {
    const settings = repositorySettingsFromConfig(
      loadConfig({
        S3_ENDPOINT: 'http://rgw:7480',
        S3_ACCESS_KEY_ID: 'id',
        S3_SECRET_ACCESS_KEY: 'secret',
        SWIFT_AUTH_URL: 'http://keystone:5000/v3',
        SWIFT_USERNAME: 'u',
        SWIFT_PASSWORD: 'p',
        SWIFT_PROJECT_NAME: 'proj',
        REPOSITORY_TEMP_MAX_AGE_SECONDS: '0',
      }),
    );
    expect(settings).toMatchObject({
      s3: { endpoint: 'http://rgw:7480', region: 'us-east-1', accessKeyId: 'id', secretAccessKey: 'secret' },
      swift: {
        own: { authUrl: 'http://keystone:5000/v3', credentials: { username: 'u', projectName: 'proj' } },
      },
      requests: 16,
      tempObjectsMaxAgeMs: 0,
    });
  });
});
