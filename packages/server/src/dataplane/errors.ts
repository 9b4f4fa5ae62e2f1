/** Restore or verify found a chunk whose digest does not match, that is missing or unreadable. */
export class DataIntegrityError extends Error {
  override readonly name = 'DataIntegrityError';
  constructor(
    message: string,
    readonly chunkId?: string,
    readonly packId?: string,
  ) {
    super(message);
  }
}

/** The backup has no manifest in the repository (never finished, or deleted). */
export class ManifestNotFoundError extends Error {
  override readonly name = 'ManifestNotFoundError';
  constructor(readonly backupId: string) {
    super(`backup ${backupId} has no manifest in the repository`);
  }
}

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(typeof reason === 'string' ? reason : 'the operation was aborted');
  error.name = 'AbortError';
  return error;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
