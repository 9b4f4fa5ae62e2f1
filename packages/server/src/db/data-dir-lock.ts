import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fsExt from 'fs-ext';

/**
 * One service per DATA_DIR: an flock on `$DATA_DIR/service.lock`. The kernel drops it when the
 * process dies, even by SIGKILL, so a crashed service never blocks the next start.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'service.lock');
  const fd = openSync(file, 'a+');
  try {
    fsExt.flockSync(fd, 'exnb');
  } catch {
    closeSync(fd);
    throw new Error(`DATA_DIR ${dataDir} is in use by another backup service process (${file} is locked)`);
  }
  writeFileSync(file, `${process.pid}\n`);
  return {
    release() {
      closeSync(fd);
    },
  };
}
