import type { VolumeFiles } from '../cinder/volume-files.js';
import type { FaultTable } from '../common/faults.js';
import type { SimLogger } from '../common/logger.js';
import type { Scheduler } from '../state/scheduler.js';
import type { Store } from '../state/store.js';

/** Base URLs of the four services (`http://host:port`, no version path). */
export interface ServiceUrls {
  keystone: string;
  cinder: string;
  nova: string;
  glance: string;
}

/** Everything the services share: one state, one scheduler, the file layout. */
export interface Sim {
  store: Store;
  scheduler: Scheduler;
  files: VolumeFiles;
  faults: FaultTable;
  logger: SimLogger;
  stateDir: string;
  imagesDir: string;
  instancesDir: string;
  tokenTtlSeconds: number;
  /** Filled in once every service listens. */
  urls: ServiceUrls;
  /** What happened since start, for tests that must prove something happened once (not persisted). */
  stats: SimStats;
}

export interface SimStats {
  /** Snapshot creations accepted, by snapshot name (unnamed: by id). */
  snapshotsCreated: Map<string, number>;
}
