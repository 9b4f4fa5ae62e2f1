import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Real OpenStack only (pnpm test:openstack, vitest.openstack.config.ts).
    exclude: ['**/node_modules/**', 'test/openstack/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // 2 cores: two files at once keeps the machine busy without starving the servers under test.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
    typecheck: { enabled: true, include: ['**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
