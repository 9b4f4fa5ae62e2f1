import { defineConfig } from 'vitest/config';

// `pnpm test:openstack`: the end-to-end files that make sense against a real OpenStack, run against
// Keystone, Cinder (Ceph RBD), Nova and Ceph as ../shared/openstack-env starts them (or the cloud the
// TEST_OS_* variables name, see test/support/openstack-target.ts), the service with STORAGE_DRIVER=rbd.
// The same files as the simulator suite, so every difference between the two fails somewhere.
// Left out (simulator-only, they need its controls): test/durability (fault injection, crashes),
// test/instances/image-backed (Nova's FakeDriver uploads no image data), and the files of other
// doors (access, gateway), which test no OpenStack behaviour of their own.
export default defineConfig({
  test: {
    include: [
      'test/volume-backups/*.test.ts',
      'test/rollback/*.test.ts',
      'test/instances/volume-backed.test.ts',
      'test/openstack/*.test.ts',
    ],
    globalSetup: ['test/support/global-setup.ts'],
    env: { TEST_OPENSTACK: process.env.TEST_OPENSTACK || 'rig' },
    // Real services on a small machine: Cinder takes seconds per operation, Ceph writes GiBs.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // One file at a time: the files share one cloud (and its 2 cores with the services under test).
    maxWorkers: 1,
    reporters: ['default'],
  },
});
