import { initTRPC } from '@trpc/server';
import { DomainError } from '../domain/errors.js';
import type { TrpcContext } from './context.js';
import { type DomainErrorCode, toTrpcError } from './errors.js';

const t = initTRPC.context<TrpcContext>().create({
  errorFormatter({ shape, error }) {
    const domainCode: DomainErrorCode | null = error.cause instanceof DomainError ? error.cause.code : null;
    return { ...shape, data: { ...shape.data, domainCode } };
  },
});

/** Every error leaves as a DomainError's tRPC code (errors.ts), whoever threw it. */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTrpcError(result.error);
  return result;
});

/** SPEC §4: every call needs a valid X-Auth-Token; the domain services apply the caller's scope. */
const authenticated = t.middleware(async ({ ctx, next }) =>
  next({ ctx: { caller: await ctx.core.authenticator.authenticate(ctx.token) } }),
);

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
/** The only kind of procedure: authenticated, errors mapped. */
export const procedure = t.procedure.use(domainErrors).use(authenticated);
