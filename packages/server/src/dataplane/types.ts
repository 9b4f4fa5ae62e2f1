import type { pino } from 'pino';
import type { Db } from '../db/client.js';

export interface Extent {
  offset: number;
  length: number;
}

/** Where volume data lives (Cinder's backend). One implementation per backend: `file` now, `rbd` later. */
export interface StorageDriver {
  readonly kind: 'file' | 'rbd';
  /** Point-in-time read access to a Cinder snapshot of a volume. */
  openSnapshot(ref: { volumeId: string; snapshotId: string }): Promise<SnapshotReader>;
  /** Write access for a restore: the whole volume is rewritten; ranges not written read as zeros afterwards. */
  openForRestore(ref: { volumeId: string; sizeBytes: number }): Promise<VolumeWriter>;
  /** Replace the volume's data with one of its snapshots' (any snapshot, not only the newest); newer snapshots stay intact. */
  rollback(ref: { volumeId: string; snapshotId: string }): Promise<void>;
}

export interface SnapshotReader {
  readonly sizeBytes: number;
  /** Ranges that differ from an older snapshot of the same volume, or null when the driver cannot tell. */
  changedSince(olderSnapshotId: string): Promise<Extent[] | null>;
  /** Ranges that may hold data (holes excluded), from SEEK_DATA/SEEK_HOLE. */
  dataExtents(): Promise<Extent[]>;
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: like read(), into a caller's buffer (`target.length` bytes at `offset`), so that the
   * data plane can recycle its read buffers instead of allocating one per batch.
   */
  readInto?(offset: number, target: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface VolumeWriter {
  write(offset: number, data: Buffer): Promise<void>;
  /** Optional: the buffers back to back at `offset`, in one call (spares the data plane a gathering copy). */
  writev?(offset: number, data: Buffer[]): Promise<void>;
  /** Durable (fsync) and, for `file`, change tracking updated (trackers "all", see the layout doc). */
  finish(): Promise<void>;
  abort(): Promise<void>;
}

export interface Repository {
  readonly id: string;
  readonly url: string;
  readonly chunkSize: number;
}

export interface BackupInput {
  repository: Repository;
  /** Names the manifest. */
  backupId: string;
  volumeId: string;
  source: SnapshotReader;
  /** The previous backup of this volume: its manifest is the base; `snapshotId` is the Cinder snapshot its data was read from (maybe deleted since), for source.changedSince(). */
  parent?: { backupId: string; snapshotId: string | null };
  signal?: AbortSignal;
  onProgress?(doneBytes: number, totalBytes: number): void;
}

export interface BackupOutput {
  /** True when only changed extents were read (parent + changedSince known). */
  incremental: boolean;
  /** Non-zero chunks the manifest references. */
  chunkCount: number;
  /** Bytes of those chunks (uncompressed). */
  logicalBytes: number;
  /** Chunks this backup added to the repository. */
  newChunks: number;
  /** Bytes this backup added (compressed, incl. pack overhead). */
  storedBytes: number;
  /** Bytes read from the source. */
  readBytes: number;
  sizeBytes: number;
}

export interface RestoreInput {
  repository: Repository;
  backupId: string;
  target: VolumeWriter;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

export interface VerifyInput {
  repository: Repository;
  backupId: string;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

export interface VerifyOutput {
  ok: boolean;
  /** Chunk references of the manifest that were checked (a chunk used at several places counts at each). */
  checkedChunks: number;
  damaged: Array<{ chunkId: string; reason: string }>;
}

export interface CollectGarbageInput {
  repository: Repository;
  signal?: AbortSignal;
  /**
   * Temporary objects (`*.tmp-*`, left by crashed writers) older than this are removed. Default one
   * hour; 0 removes all of them (only when no writer can be running).
   */
  tempFilesOlderThanMs?: number;
}

export interface CollectGarbageOutput {
  deletedPacks: number;
  rewrittenPacks: number;
  deletedChunks: number;
  freedBytes: number;
}

export interface RepositoryStats {
  chunkCount: number;
  storedBytes: number;
  packCount: number;
}

export interface DataPlane {
  /** Opens (creating on first use) the repository at a URL: `file:///abs/path` now (s3://, swift:// later). Cached per URL. Upserts the Repository row (id = the repository's own id kept in its config object). */
  openRepository(url: string): Promise<Repository>;
  backup(input: BackupInput): Promise<BackupOutput>;
  restore(input: RestoreInput): Promise<{ bytesWritten: number }>;
  verify(input: VerifyInput): Promise<VerifyOutput>;
  /** Removes the backup's manifest (its chunks stay until collectGarbage finds nobody references them). Idempotent. */
  deleteBackup(input: { repository: Repository; backupId: string }): Promise<void>;
  /** Precondition (guaranteed by the job engine): no backup writes to this repository meanwhile. */
  collectGarbage(input: CollectGarbageInput): Promise<CollectGarbageOutput>;
  stats(repository: Repository): Promise<RepositoryStats>;
  hasManifest(repository: Repository, backupId: string): Promise<boolean>;
  /** Stops the worker pool. */
  close(): Promise<void>;
}

export interface DataPlaneOptions {
  prisma: Db;
  /** Worker threads for hashing and (de)compression. Default: os.availableParallelism(). */
  threads?: number;
  logger?: pino.Logger;
  metrics?: { bytesRead: { inc(n: number): void }; bytesStored: { inc(n: number): void } };
  /** Chunk size of repositories created by this data plane (existing ones keep theirs). Default 64 KiB. */
  defaultChunkSize?: number;
  /** zstd level for new chunks. Default 1. */
  compressionLevel?: number;
}
