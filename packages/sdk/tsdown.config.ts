import { defineConfig } from 'tsdown';

/**
 * dist/index.js and one dist/index.d.ts in which the server's router types are inlined, so the
 * packed SDK needs nothing of @backup-service/server (a dev dependency: types only). The tRPC
 * context's `core` member is `@internal` and stripped, so no server internals follow it in.
 */
export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  tsconfig: 'tsconfig.build.json',
  dts: { resolver: 'tsc' },
  deps: { alwaysBundle: ['@backup-service/server'] },
});
