import type { Store } from '../state/store.js';
import type { Token } from '../state/types.js';
import { ApiError } from './errors.js';
import type { RequestContext } from './http.js';

/** Who is calling, from a validated token (what keystonemiddleware hands a service). */
export interface AuthContext {
  token: Token;
  userId: string;
  userName: string;
  projectId: string;
  projectName: string;
  roles: string[];
  isAdmin: boolean;
  /** member or admin: may change things. A token with only `reader` may only read. */
  canWrite: boolean;
}

export function lookupToken(store: Store, id: string | undefined): Token | undefined {
  if (!id) return undefined;
  const token = store.state.tokens[id];
  if (!token || Date.parse(token.expires_at) <= Date.now()) return undefined;
  return token;
}

export function authContextOf(store: Store, token: Token): AuthContext | undefined {
  const user = store.state.users[token.user_id];
  const project = token.project_id ? store.state.projects[token.project_id] : undefined;
  if (!user || !project) return undefined;
  return {
    token,
    userId: user.id,
    userName: user.name,
    projectId: project.id,
    projectName: project.name,
    roles: token.roles,
    isAdmin: token.roles.includes('admin'),
    canWrite: token.roles.includes('admin') || token.roles.includes('member'),
  };
}

/**
 * The keystonemiddleware step of Cinder, Nova and Glance: a valid, project-scoped `X-Auth-Token`
 * or 401 (the caller renders the body).
 */
export function requireAuth(ctx: RequestContext, store: Store): AuthContext {
  const token = lookupToken(store, ctx.header('x-auth-token'));
  const auth = token ? authContextOf(store, token) : undefined;
  if (!auth) throw new ApiError(401, 'The request you have made requires authentication.');
  ctx.auth = auth;
  return auth;
}

/** True when a `X-Service-Token` carries the `service` role (Cinder's OSSA-2023-003 check). */
export function hasServiceToken(ctx: RequestContext, store: Store): boolean {
  const token = lookupToken(store, ctx.header('x-service-token'));
  return !!token?.roles.includes('service');
}

/** Owner or admin (Cinder/Nova `admin_or_owner`): others get the same 404 as for a missing id. */
export function canSee(auth: AuthContext, ownerProjectId: string): boolean {
  return auth.isAdmin || auth.projectId === ownerProjectId;
}
