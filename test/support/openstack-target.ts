import type { Simulator } from '@backup-service/openstack-sim';
import type { UserName } from './stack.js';
import { type CephAccess, cephVolumeData, simulatorVolumeData, type VolumeData } from './volume-data.js';

/**
 * Which OpenStack the end-to-end tests run against: the built-in simulator (default), or a real one
 * when TEST_OPENSTACK is set (`pnpm test:openstack`: Keystone, Cinder on Ceph RBD and Nova started
 * by ../shared/openstack-env, or any cloud the TEST_OS_* variables name; the service then uses
 * STORAGE_DRIVER=rbd). The same test files run against both, so every difference between the
 * simulator and real OpenStack shows up as a failure somewhere.
 */
export const openStackUnderTest: 'simulator' | 'openstack' = process.env.TEST_OPENSTACK
  ? 'openstack'
  : 'simulator';

/** Where the tests' OpenStack is, and how a test reaches into its volumes (as a guest would). */
export interface OpenStackTarget {
  kind: 'simulator' | 'openstack';
  urls: {
    /** http://host:port/v3 */
    keystone: string;
    /** Cinder without the version (requests go to `${cinder}/v3/<project id>/…`). */
    cinder: string;
    /** Nova with the version (http://host:port/v2.1). */
    nova: string;
    glance: string;
  };
  projectId(user: UserName): Promise<string>;
  data: VolumeData;
  /** A public image an instance can boot from (Glance name). */
  bootImageName: string;
}

export function simulatorTarget(sim: Simulator): OpenStackTarget {
  return {
    kind: 'simulator',
    urls: sim.urls,
    projectId: async (user) => sim.projects[user === 'reader' ? 'demo' : user].id,
    data: simulatorVolumeData(sim.urls.cinder),
    bootImageName: 'cirros-0.6.2-x86_64-disk',
  };
}

export interface RealOpenStack extends OpenStackTarget {
  /** The service's configuration for this cloud (OS_*, STORAGE_DRIVER=rbd, CEPH_*). */
  serviceEnv: Record<string, string>;
  /**
   * Removes what tests made in the test projects since `since`: servers, then volumes (with their
   * snapshots) and the service's leftover snapshots. A real cloud keeps everything, and its quotas
   * and its Ceph are finite.
   */
  cleanup(since: Date): Promise<void>;
}

const env = (name: string, fallback: string) => process.env[name] || fallback;

/**
 * The real cloud (defaults: the rig of ../shared/openstack-env on 127.0.0.1): Keystone at
 * TEST_OS_AUTH_URL; the service's user TEST_OS_SERVICE_USER / _PASSWORD / _PROJECT (backup/backup
 * on service); test users admin, demo, alt_demo (member of their own projects) and reader (reader on
 * demo), password = name; Ceph through TEST_CEPH_CONF, TEST_CEPH_CLIENT (cinder), TEST_CEPH_KEYRING
 * and pool TEST_RBD_POOL (volumes).
 */
export async function realOpenStack(): Promise<RealOpenStack> {
  realOpenStackOnce ??= discover();
  return realOpenStackOnce;
}
let realOpenStackOnce: Promise<RealOpenStack> | undefined;

/** How tests reach the real cloud's Ceph (the service is given the same). */
export function cephAccess(): CephAccess {
  return {
    pool: env('TEST_RBD_POOL', 'volumes'),
    cephConf: env('TEST_CEPH_CONF', '/etc/ceph/ceph.conf'),
    client: env('TEST_CEPH_CLIENT', 'cinder'),
    keyring: process.env.TEST_CEPH_KEYRING || undefined,
  };
}

async function discover(): Promise<RealOpenStack> {
  const keystone = env('TEST_OS_AUTH_URL', 'http://127.0.0.1:5000/v3').replace(/\/$/, '');
  const ceph = cephAccess();
  const admin = await login(keystone, 'admin', 'admin').catch((error: unknown) => {
    throw new Error(
      `TEST_OPENSTACK: no OpenStack to test against at ${keystone} (${(error as Error).message}); start one (../shared/openstack-env/README.md, or scripts/openstack-rig.sh up) or name it with TEST_OS_AUTH_URL`,
    );
  });
  const endpoint = (type: string) => {
    const service = admin.catalog.find((s) => s.type === type);
    const url = service?.endpoints.find((e) => e.interface === 'public')?.url;
    if (!url) throw new Error(`the catalog of ${keystone} has no public ${type} endpoint`);
    return url.replace(/\/$/, '');
  };
  const projects = new Map<UserName, Promise<string>>();
  const cinder = endpoint('volumev3').replace(/\/v3\/.*$/, '');
  const nova = endpoint('compute').replace(/\/v2\.1\/.*$/, '/v2.1');
  const testProjects = await Promise.all(
    (['admin', 'demo', 'alt_demo'] as const).map(
      async (user) => (await login(keystone, user, user)).projectId,
    ),
  );
  const admin$ = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method,
      headers: { 'x-auth-token': admin.token, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  // Cinder's default quotas (10 volumes, 10 snapshots per project) are far below what the files make.
  for (const project of testProjects) {
    const response = await admin$('PUT', `${cinder}/v3/${admin.projectId}/os-quota-sets/${project}`, {
      quota_set: { volumes: -1, snapshots: -1, gigabytes: -1 },
    });
    if (response.status !== 200)
      throw new Error(`quotas of ${project}: ${response.status} ${await response.text()}`);
  }
  return {
    kind: 'openstack',
    urls: {
      keystone,
      cinder,
      nova,
      glance: endpoint('image'),
    },
    projectId(user) {
      let id = projects.get(user);
      if (!id) {
        id = login(keystone, user, user === 'reader' ? 'demo' : user).then((l) => l.projectId);
        projects.set(user, id);
      }
      return id;
    },
    data: cephVolumeData(ceph),
    bootImageName: env('TEST_OS_IMAGE', 'fake-image'),
    async cleanup(since) {
      const mine = (project: string | undefined, created: string) =>
        project !== undefined &&
        testProjects.includes(project) &&
        new Date(`${created.replace(/Z$/, '')}Z`) >= since;
      const servers = (await (await admin$('GET', `${nova}/servers/detail?all_tenants=1`)).json()) as {
        servers: Array<{ id: string; tenant_id: string; created: string }>;
      };
      const doomed = servers.servers.filter((s) => mine(s.tenant_id, s.created));
      for (const server of doomed) await admin$('DELETE', `${nova}/servers/${server.id}`);
      await until(async () => {
        for (const server of doomed) {
          if ((await admin$('GET', `${nova}/servers/${server.id}`)).status !== 404) return false;
        }
        return true;
      });
      const c = `${cinder}/v3/${admin.projectId}`;
      const volumes = (await (await admin$('GET', `${c}/volumes/detail?all_tenants=1`)).json()) as {
        volumes: Array<{
          id: string;
          status: string;
          created_at: string;
          'os-vol-tenant-attr:tenant_id'?: string;
          attachments: Array<{ attachment_id: string }>;
        }>;
      };
      const gone = volumes.volumes.filter((v) => mine(v['os-vol-tenant-attr:tenant_id'], v.created_at));
      for (const volume of gone) {
        for (const a of volume.attachments) {
          await admin$('POST', `${c}/volumes/${volume.id}/action`, {
            'os-detach': { attachment_id: a.attachment_id },
          });
        }
        if (!['available', 'error', 'in-use'].includes(volume.status) || volume.attachments.length > 0) {
          await admin$('POST', `${c}/volumes/${volume.id}/action`, {
            'os-reset_status': { status: 'available', attach_status: 'detached' },
          });
        }
        await admin$('DELETE', `${c}/volumes/${volume.id}?cascade=true`);
      }
      await until(async () => {
        for (const volume of gone)
          if ((await admin$('GET', `${c}/volumes/${volume.id}`)).status !== 404) return false;
        return true;
      });
    },
    serviceEnv: {
      OS_AUTH_URL: keystone,
      OS_USERNAME: env('TEST_OS_SERVICE_USER', 'backup'),
      OS_PASSWORD: env('TEST_OS_SERVICE_PASSWORD', 'backup'),
      OS_PROJECT_NAME: env('TEST_OS_SERVICE_PROJECT', 'service'),
      STORAGE_DRIVER: 'rbd',
      RBD_POOL: ceph.pool,
      ...(ceph.cephConf ? { CEPH_CONF: ceph.cephConf } : {}),
      ...(ceph.client ? { CEPH_CLIENT: ceph.client } : {}),
      ...(ceph.keyring ? { CEPH_KEYRING: ceph.keyring } : {}),
    },
  };
}

/** Polls `check` for up to two minutes (cleanup is best effort: what remains is left). */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

interface Login {
  token: string;
  projectId: string;
  catalog: Array<{ type: string; endpoints: Array<{ interface: string; url: string }> }>;
}

async function login(keystone: string, user: string, project: string): Promise<Login> {
  const response = await fetch(`${keystone}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password: user } },
        },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    }),
  });
  if (response.status !== 201)
    throw new Error(`token for ${user} at ${keystone}: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { token: { project: { id: string }; catalog?: Login['catalog'] } };
  return {
    token: response.headers.get('x-subject-token') ?? '',
    projectId: body.token.project.id,
    catalog: body.token.catalog ?? [],
  };
}

/**
 * Stands in for `stack.sim` against a real cloud: the simulator's controls (faults, transitions,
 * /_sim) do not exist there, and a test that reaches for them is simulator-only.
 */
export function noSimulator(): Simulator {
  return new Proxy({} as Simulator, {
    get(_target, property) {
      if (property === 'then') return undefined; // not a thenable
      throw new Error(
        `stack.sim.${String(property)}: this test needs the OpenStack simulator (TEST_OPENSTACK is set); keep it out of vitest.openstack.config.ts`,
      );
    },
  });
}
