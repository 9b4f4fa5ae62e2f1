import { setTimeout as sleep } from 'node:timers/promises';
import { OpenStackHttp } from '../../packages/server/src/openstack/http.js';
import { KeystoneClient } from '../../packages/server/src/openstack/keystone.js';

/**
 * A project-scoped token by password, through the service's own Keystone client (domain `Default`);
 * the password and project default to the user's name, as on the simulator and the rig.
 */
export async function keystoneLogin(authUrl: string, user: string, password = user, project = user) {
  const keystone = new KeystoneClient(
    authUrl,
    new OpenStackHttp('keystone', { timeoutMs: 30_000, maxAttempts: 1 }),
  );
  const issued = await keystone.issueToken({
    username: user,
    password,
    projectName: project,
    userDomainName: 'Default',
    projectDomainName: 'Default',
  });
  return { token: issued.id, projectId: issued.body.project?.id ?? '', catalog: issued.body.catalog ?? [] };
}

/** Minimal calls to the simulated Keystone/Cinder and to the service's /v1, as the benchmark's client. */
export class BenchClient {
  token = '';
  projectId = '';

  constructor(
    readonly serviceUrl: string,
    readonly keystoneUrl: string,
    readonly cinderUrl: string,
  ) {}

  async login(user = 'demo') {
    ({ token: this.token, projectId: this.projectId } = await keystoneLogin(`${this.keystoneUrl}/v3`, user));
  }

  async json(url: string, method = 'GET', body?: unknown): Promise<any> {
    const response = await fetch(url, {
      method,
      headers: { 'x-auth-token': this.token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 400) throw new Error(`${method} ${url}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  cinder(path: string) {
    return `${this.cinderUrl}/v3/${this.projectId}${path}`;
  }

  async createVolume(sizeGb: number): Promise<string> {
    const { volume } = await this.json(this.cinder('/volumes'), 'POST', {
      volume: { size: sizeGb, name: 'bench' },
    });
    await this.waitVolume(volume.id, 'available');
    return volume.id;
  }

  async waitVolume(id: string, status: string) {
    for (;;) {
      const { volume } = await this.json(this.cinder(`/volumes/${id}`));
      if (volume.status === status) return volume;
      if (volume.status.startsWith('error')) throw new Error(`volume ${id}: ${volume.status}`);
      await sleep(20);
    }
  }

  async write(volumeId: string, offset: number, data: Buffer) {
    const response = await fetch(`${this.cinderUrl}/_sim/volumes/${volumeId}/data?offset=${offset}`, {
      method: 'PUT',
      body: data,
    });
    if (response.status >= 300) throw new Error(`write: ${response.status}`);
  }

  async sha256(volumeId: string): Promise<string> {
    return (await this.json(`${this.cinderUrl}/_sim/volumes/${volumeId}/sha256`)).sha256;
  }

  /**
   * Backs up a volume and waits until the backup is available. Its time runs from the request to the
   * moment the service recorded it available (the backup's `updated_at`, in milliseconds): the bench
   * looks only every 100 ms, since a client asking 50 times a second takes CPU from the backup on a
   * 2-core machine (about 0.3 CPU-s per full backup at 20 ms, measured).
   */
  async backup(
    volumeId: string,
  ): Promise<{ id: string; seconds: number; storedBytes: number; incremental: boolean }> {
    const startedAt = Date.now();
    const { backup } = await this.json(`${this.serviceUrl}/v1/volume/backup`, 'POST', {
      backup: { volume_id: volumeId },
    });
    const { shown, seconds } = await this.untilAvailable(`backup ${backup.id}`, startedAt, async () => {
      return (await this.json(`${this.serviceUrl}/v1/volume/backup/${backup.id}`)).backup;
    });
    return {
      id: backup.id,
      seconds,
      storedBytes: shown.stored_bytes,
      incremental: shown.is_incremental,
    };
  }

  /**
   * Looks every 100 ms until `show()` is available; its time is from `startedAt` to its `updated_at`
   * (ms), the moment the service recorded the change (a backup's in ours, a volume's in Cinder).
   */
  private async untilAvailable(what: string, startedAt: number, show: () => Promise<any>) {
    for (;;) {
      await sleep(100);
      const shown = await show();
      if (shown.status === 'available') {
        const availableAt = Date.parse(`${shown.updated_at}Z`);
        if (!(availableAt >= startedAt)) throw new Error(`${what}: updated_at ${shown.updated_at}`);
        return { shown, seconds: (availableAt - startedAt) / 1000 };
      }
      if (shown.status.startsWith('error'))
        throw new Error(`${what} failed: ${shown.status} ${shown.fail_reason ?? ''}`);
    }
  }

  /** `startedAt`: the request's wall-clock time (ms), to compare with the service's job events. */
  async restore(backupId: string): Promise<{ volumeId: string; seconds: number; startedAt: number }> {
    const startedAt = Date.now();
    const { volume } = await this.json(`${this.serviceUrl}/v1/volume`, 'POST', {
      volume: { backup_id: backupId },
    });
    const { seconds } = await this.untilAvailable(`volume ${volume.id}`, startedAt, async () => {
      return (await this.json(this.cinder(`/volumes/${volume.id}`))).volume;
    });
    return { volumeId: volume.id, seconds, startedAt };
  }
}
