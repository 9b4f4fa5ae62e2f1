import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { SimState } from './types.js';

/**
 * The whole simulator state in memory, written to `<dir>/state.json` after each change
 * (tmp file + fsync + rename, so a crash leaves either the old or the new document).
 * One process owns a state dir; the state is small (no volume data), so whole-document writes are fine.
 */
export class Store {
  private constructor(
    readonly path: string,
    public state: SimState,
  ) {}

  static open(dir: string, init: () => SimState): { store: Store; created: boolean } {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'state.json');
    if (existsSync(path)) {
      const state = JSON.parse(readFileSync(path, 'utf8')) as SimState;
      return { store: new Store(path, state), created: false };
    }
    const store = new Store(path, init());
    store.save();
    return { store, created: true };
  }

  save(): void {
    const now = Date.now();
    for (const [id, t] of Object.entries(this.state.tokens)) {
      if (Date.parse(t.expires_at) < now) delete this.state.tokens[id];
    }
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(this.state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
