import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { badRequest, type DomainErrorCode, toDomainError } from '../domain/errors.js';

/**
 * Each domain error as GraphQL's `extensions.code`, with the HTTP status /v1 answers for it in
 * `extensions.status` (so the three doors can be compared). A Record: the compiler proves it complete.
 */
export const GRAPHQL_CODES: Record<DomainErrorCode, { code: string; status: number }> = {
  BAD_REQUEST: { code: 'BAD_REQUEST', status: 400 },
  UNAUTHORIZED: { code: 'UNAUTHENTICATED', status: 401 },
  FORBIDDEN: { code: 'FORBIDDEN', status: 403 },
  NOT_FOUND: { code: 'NOT_FOUND', status: 404 },
  CONFLICT: { code: 'CONFLICT', status: 409 },
  PAYLOAD_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', status: 413 },
  UPSTREAM_UNAVAILABLE: { code: 'UPSTREAM_UNAVAILABLE', status: 502 },
  UPSTREAM_TIMEOUT: { code: 'UPSTREAM_TIMEOUT', status: 504 },
  INTERNAL: { code: 'INTERNAL_SERVER_ERROR', status: 500 },
};

/**
 * Yoga's `maskError`: GraphQL's own errors (syntax, validation, limits) pass; anything a resolver
 * threw becomes its DomainError's code and message; internal details stay in the log.
 */
export function maskError(error: unknown): Error {
  const where = isGraphQLError(error) ? error : undefined;
  const original = where ? where.originalError : error;
  // GraphQL's own (syntax, validation): yoga has given them their code and status already.
  if (where && !original) return where;
  // Raised by the schema's plugins while executing (query limits, a global id of the wrong type).
  const domain = isGraphQLError(original) ? badRequest(original.message) : toDomainError(original);
  const { code, status } = GRAPHQL_CODES[domain.code];
  return createGraphQLError(domain.message, {
    nodes: where?.nodes,
    source: where?.source,
    positions: where?.positions,
    path: where?.path,
    originalError: domain,
    // Only a refused token fails the whole request (401, as /v1); other errors belong to a field.
    extensions: { code, status, ...(domain.code === 'UNAUTHORIZED' ? { http: { status } } : {}) },
  });
}

/**
 * A GraphQLError or a subclass of one (Pothos' errors), by class name: graphql-js may be loaded twice
 * (its CommonJS and ES builds), so `instanceof` can lie.
 */
function isGraphQLError(error: unknown): error is GraphQLError {
  for (let proto = error; proto; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'GraphQLError') return true;
  }
  return false;
}
