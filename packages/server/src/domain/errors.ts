import { faultMessage, OpenStackHttpError, OpenStackUnavailableError } from '../openstack/http.js';

/**
 * What went wrong, independent of transport. Each transport maps these codes in one table that the
 * compiler proves complete (/v1: Cinder fault names, tRPC: error codes, GraphQL: extensions.code).
 */
export type DomainErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'INTERNAL';

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const badRequest = (message: string) => new DomainError('BAD_REQUEST', message);
export const unauthorized = (message = 'The request you have made requires authentication.') =>
  new DomainError('UNAUTHORIZED', message);
export const forbidden = (message: string) => new DomainError('FORBIDDEN', message);
export const notFound = (message: string) => new DomainError('NOT_FOUND', message);
export const conflict = (message: string) => new DomainError('CONFLICT', message);

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}

/**
 * Any error as a DomainError: OpenStack's answers keep their meaning (a 404 from Cinder is a 404),
 * OpenStack failing or unreachable becomes 502/504, anything else is an internal error whose details
 * stay in the log.
 */
export function toDomainError(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  if (error instanceof OpenStackUnavailableError) {
    return new DomainError(error.timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE', error.message, {
      cause: error,
    });
  }
  if (error instanceof OpenStackHttpError) {
    const message = faultMessage(error.body);
    const byStatus: Partial<Record<number, DomainErrorCode>> = {
      400: 'BAD_REQUEST',
      401: 'UNAUTHORIZED',
      403: 'FORBIDDEN',
      404: 'NOT_FOUND',
      409: 'CONFLICT',
      413: 'PAYLOAD_TOO_LARGE',
    };
    const code = byStatus[error.status];
    if (code) return new DomainError(code, message, { cause: error });
    return new DomainError('UPSTREAM_UNAVAILABLE', `${error.service} failed: ${error.message}`, {
      cause: error,
    });
  }
  return new DomainError(
    'INTERNAL',
    'The server has either erred or is incapable of performing the requested operation.',
    {
      cause: error,
    },
  );
}
