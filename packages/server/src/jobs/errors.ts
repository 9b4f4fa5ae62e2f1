import { OpenStackHttpError, OpenStackUnavailableError } from '../openstack/http.js';

/** A step cannot go on yet (a volume still `creating`, a service down): run the job again later. */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  constructor(
    message: string,
    readonly delayMs?: number,
  ) {
    super(message);
  }
}

/**
 * The step waits for other jobs (e.g. an instance backup for its volume backups): run it again after
 * `delayMs`. Not a failed attempt, and the job gives its worker slot back while it waits.
 */
export class WaitingError extends Error {
  override readonly name = 'WaitingError';
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

/** The job cannot succeed; retrying will not help. The message is the backup's fail_reason. */
export class JobFailedError extends Error {
  override readonly name = 'JobFailedError';
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(jobId: string) {
    super(`lease of job ${jobId} was taken over`);
  }
}

export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor() {
    super('cancelled by an administrator');
  }
}

export class ShutdownError extends Error {
  override readonly name = 'ShutdownError';
  constructor() {
    super('the process is stopping');
  }
}

/** One line a person can act on. */
export function describeError(error: unknown): string {
  if (error instanceof OpenStackHttpError || error instanceof OpenStackUnavailableError) return error.message;
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}
