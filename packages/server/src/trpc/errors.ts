import { TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { DomainError, type DomainErrorCode, toDomainError } from '../domain/errors.js';

// Re-exported so that declarations of the router name it from here, not from the server's index.
export type { DomainErrorCode };

type TrpcCode = TRPCError['code'];

/**
 * Each domain error's tRPC code, chosen so that tRPC's HTTP status equals /v1's (400, 401, 403, 404,
 * 409, 413, 502, 504, 500). A Record, so the compiler proves every code mapped.
 */
export const TRPC_CODES: Record<DomainErrorCode, TrpcCode> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UPSTREAM_UNAVAILABLE: 'BAD_GATEWAY',
  UPSTREAM_TIMEOUT: 'GATEWAY_TIMEOUT',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

/** Whatever a procedure threw, as a TRPCError whose cause is the DomainError. */
export function toTrpcError(error: TRPCError): TRPCError {
  const domain = fromTrpcError(error);
  if (error.cause === domain && error.code === TRPC_CODES[domain.code]) return error;
  return new TRPCError({ code: TRPC_CODES[domain.code], message: domain.message, cause: domain });
}

function fromTrpcError(error: TRPCError): DomainError {
  if (error.cause instanceof DomainError) return error.cause;
  if (error.cause instanceof ZodError) return invalidInput(error.cause);
  // tRPC's own rejections (bad JSON, unknown procedure, wrong method) keep their meaning.
  if (error.code === 'PARSE_ERROR' || error.code === 'BAD_REQUEST' || error.code === 'METHOD_NOT_SUPPORTED')
    return new DomainError('BAD_REQUEST', error.message);
  if (error.code === 'NOT_FOUND') return new DomainError('NOT_FOUND', error.message);
  if (error.code === 'PAYLOAD_TOO_LARGE') return new DomainError('PAYLOAD_TOO_LARGE', error.message);
  return toDomainError(error.cause ?? error);
}

/** An input that fails its schema: 400 naming the field, as /v1 does. */
function invalidInput(error: ZodError): DomainError {
  const issue = error.issues[0];
  if (!issue) return new DomainError('BAD_REQUEST', 'Invalid input.');
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return new DomainError(
      'BAD_REQUEST',
      `Invalid input${path ? ` in ${path}` : ''}: unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}.`,
    );
  }
  return new DomainError('BAD_REQUEST', `Invalid input for ${path || 'the input'}: ${issue.message}.`);
}
