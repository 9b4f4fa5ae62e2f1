import type { pino } from 'pino';
import type { Db } from '../db/client.js';
import type { RepositoryOptions } from './repository.js';

export interface Extent {
  offset: number;
  length: number;
}

/** Where volume data lives (Cinder's backend). One implementation per backend: `file` and `rbd` (Ceph). */
export interface StorageDriver {
  readonly kind: 'file' | 'rbd';
  /** Point-in-time read access to a Cinder snapshot of a volume. */
  openSnapshot(ref: { volumeId: string; snapshotId: string }): Promise<SnapshotReader>;
  /** Write access for a restore: the whole volume is rewritten; ranges not written read as zeros afterwards. */
  openForRestore(ref: { volumeId: string; sizeBytes: number }): Promise<VolumeWriter>;
  /** Replace the volume's data with one of its snapshots' (any snapshot, not only the newest); newer snapshots stay intact. */
  rollback(ref: { volumeId: string; snapshotId: string }): Promise<void>;
  /**
   * Optional (rbd): a backup has read `snapshotId`, a temporary Cinder snapshot about to be deleted:
   * keep that point in time in the storage, as the base of the volume's next incremental (found
   * again by `changedSince(…, backupId)`). Called before the snapshot is deleted; idempotent.
   */
  keepBackupPoint?(ref: { volumeId: string; snapshotId: string; backupId: string }): Promise<void>;
  /** Optional (rbd): the points kept for these backups are not needed any more. Idempotent. */
  releaseBackupPoints?(ref: { volumeId: string; backupIds: string[] }): Promise<void>;
}

export interface SnapshotReader {
  readonly sizeBytes: number;
  /**
   * Ranges that differ from an older snapshot of the same volume (the one the backup
   * `olderBackupId` read, when given: its kept point may outlive the snapshot), or null when the
   * driver cannot tell.
   */
  changedSince(olderSnapshotId: string, olderBackupId?: string): Promise<Extent[] | null>;
  /** Ranges that may hold data (holes excluded), from SEEK_DATA/SEEK_HOLE. */
  dataExtents(): Promise<Extent[]>;
  /**
   * Optional (rbd): true when, after changedSince() returned extents, reads give the snapshot's
   * bytes only inside those extents and leave the rest of the target as it is: the data plane
   * completes each chunk from the parent backup, which holds exactly those bytes (the `rbd` driver
   * reads an `export-diff` stream, which holds nothing else). The reads follow whichever of
   * changedSince()/dataExtents() was called last.
   */
  readonly readsChangedOnly?: boolean;
  /** Optional: bytes read from the storage so far (e.g. the diff stream), when not the bytes asked for. */
  readonly bytesRead?: number;
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
  /**
   * Optional: data in page-aligned memory (direct-io.ts) at 4 KiB-aligned offsets goes to the
   * disk without a copy into the page cache, so the data plane hands over such memory where it can.
   */
  readonly prefersAlignedData?: boolean;
  /** Durable (fsync) and, for `file`, change tracking updated (trackers "all", see the layout doc). */
  finish(): Promise<void>;
  abort(): Promise<void>;
}

export interface Repository {
  readonly id: string;
  readonly url: string;
  readonly chunkSize: number;
}

/**
 * What the service's database holds about a backup, kept in its manifest's header too, so that a
 * repository alone can be re-imported (recovery without the database). Opaque to the data plane.
 */
export interface BackupRecord {
  projectId: string;
  userId: string;
  name: string | null;
  description: string | null;
  container: string | null;
  availabilityZone: string | null;
  metadata: Record<string, unknown>;
  /** The volume's size in GiB, as in Cinder. */
  sizeGb: number;
  source: 'volume' | 'image';
  /** The Cinder snapshot the caller asked to back up. */
  snapshotId: string | null;
  /** The Cinder snapshot the data was read from (the base of the next incremental). */
  dataSnapshotId: string | null;
  dataTimestamp: string | null;
  /** When the backup was asked for (ISO 8601). */
  createdAt: string;
  /** The instance backup it belongs to, if any. */
  instanceBackupId: string | null;
}

/** A backup as its manifest describes it (recovery). */
export interface ManifestSummary {
  backupId: string;
  volumeId: string;
  sizeBytes: number;
  chunkSize: number;
  /** When the manifest was written. */
  createdAt: string;
  parentBackupId: string | null;
  /** Null for manifests of format version 1 or written without one. */
  record: BackupRecord | null;
  chunkCount: number;
  logicalBytes: number;
}

export interface BackupInput {
  repository: Repository;
  /** Names the manifest. */
  backupId: string;
  volumeId: string;
  /** Kept in the manifest (format version 2) for recovery without the database. */
  record?: BackupRecord;
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

export interface WarmRestoreInput {
  repository: Repository;
  backupId: string;
  /** Stop after this many bytes of packs. Default: 1 GiB or an eighth of the memory, the lesser. */
  maxBytes?: number;
  /** Stops the warm-up (the restore begins): not an error. */
  signal?: AbortSignal;
}

export interface WarmRestoreOutput {
  /** Packs read (wholly or in part) into the page cache, and their bytes read. */
  packs: number;
  bytes: number;
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

export interface RebuildIndexOutput {
  /** Pack objects read and indexed (they were not in the index). */
  indexedPacks: number;
  /** Chunk rows added. */
  indexedChunks: number;
  /** Pack objects whose own index could not be read (left alone). */
  damagedPacks: Array<{ packId: string; reason: string }>;
}

export interface DataPlane {
  /** Opens (creating on first use) the repository at a URL: `file:///abs/path`, `s3://bucket/prefix`, `swift://container/prefix`. Cached per URL. Upserts the Repository row (id = the repository's own id kept in its config object). Encrypted repositories need the configured key (RepositoryKeyError otherwise). */
  openRepository(url: string, options?: { mustExist?: boolean }): Promise<Repository>;
  backup(input: BackupInput): Promise<BackupOutput>;
  restore(input: RestoreInput): Promise<{ bytesWritten: number }>;
  /**
   * Reads, into the page cache, what a restore of the backup will read first (while its volume is
   * being created); a restore in this process then reads those packs from there. Stops at the
   * signal and returns what it warmed; never rejects (a failure is logged).
   */
  warmRestore(input: WarmRestoreInput): Promise<WarmRestoreOutput>;
  verify(input: VerifyInput): Promise<VerifyOutput>;
  /** Removes the backup's manifest (its chunks stay until collectGarbage finds nobody references them). Idempotent. */
  deleteBackup(input: { repository: Repository; backupId: string }): Promise<void>;
  /** Precondition (guaranteed by the job engine): no backup writes to this repository meanwhile. */
  collectGarbage(input: CollectGarbageInput): Promise<CollectGarbageOutput>;
  stats(repository: Repository): Promise<RepositoryStats>;
  hasManifest(repository: Repository, backupId: string): Promise<boolean>;
  /** The backups whose manifests the repository holds (headers only), and the manifests that do not open. */
  listManifests(
    repository: Repository,
  ): AsyncIterable<{ backupId: string; manifest: ManifestSummary | null; error: string | null }>;
  /** Adds to the chunk index every pack object it does not know, from the packs' own indexes (recovery). */
  rebuildIndex(input: { repository: Repository; signal?: AbortSignal }): Promise<RebuildIndexOutput>;
  /** Stops the worker pool and closes the repositories' connections. */
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
  /** S3/Swift access, the repository key. */
  repositories?: RepositoryOptions;
  /** Default of CollectGarbageInput.tempFilesOlderThanMs (one hour). */
  tempObjectsMaxAgeMs?: number;
}
