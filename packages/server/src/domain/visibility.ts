import { type Caller, canWrite, isAdmin } from '../auth/caller.js';
import { forbidden } from './errors.js';

/**
 * Which project's rows a caller reads (SPEC §4), as a Prisma `where` fragment for any model with a
 * `projectId`. Every read — /v1, tRPC, GraphQL — goes through these two, so the rule lives here.
 */

/** Listing: the caller's project; every project with `allTenants`, which only an admin may ask for. */
export function listScope(caller: Caller, allTenants = false): { projectId?: string } {
  if (allTenants && !isAdmin(caller))
    throw forbidden("Policy doesn't allow all_tenants to be used by non-admin users.");
  return allTenants ? {} : { projectId: caller.projectId };
}

/**
 * Looking one up by id: the caller's project; an admin's: any (as Cinder's `admin_or_owner`).
 * Anything else is "not found", never "forbidden", so ids of other projects leak nothing.
 */
export function lookupScope(caller: Caller): { projectId?: string } {
  return isAdmin(caller) ? {} : { projectId: caller.projectId };
}

/** Every write: the reader role may only read. */
export function assertWriter(caller: Caller) {
  if (!canWrite(caller))
    throw forbidden("Policy doesn't allow this operation to be performed: the reader role may only read.");
}
