import { auditId, tokenId } from '../common/ids.js';
import { keystoneTime } from '../common/time.js';
import type { Sim } from '../sim/context.js';
import type { SimState, Token } from '../state/types.js';
import { buildCatalog } from './catalog.js';

const DOMAIN = { id: 'default', name: 'Default' };

export function issueToken(
  sim: Sim,
  userId: string,
  projectId: string | null,
  roles: string[],
  methods: string[],
  parentAuditId?: string,
): Token {
  const now = Date.now();
  const token: Token = {
    id: tokenId(),
    user_id: userId,
    project_id: projectId,
    roles,
    methods,
    audit_ids: parentAuditId ? [auditId(), parentAuditId] : [auditId()],
    issued_at: new Date(now).toISOString(),
    expires_at: new Date(now + sim.tokenTtlSeconds * 1000).toISOString(),
  };
  sim.store.state.tokens[token.id] = token;
  return token;
}

/** The body of POST /v3/auth/tokens (201) and GET /v3/auth/tokens (200). */
export function tokenBody(sim: Sim, token: Token, withCatalog: boolean): Record<string, unknown> {
  const state: SimState = sim.store.state;
  const user = state.users[token.user_id]!;
  const body: Record<string, unknown> = {
    audit_ids: token.audit_ids,
    expires_at: keystoneTime(token.expires_at),
    issued_at: keystoneTime(token.issued_at),
    methods: token.methods,
    user: { domain: DOMAIN, id: user.id, name: user.name, password_expires_at: null },
  };
  const project = token.project_id ? state.projects[token.project_id] : undefined;
  if (project) {
    body.is_domain = false;
    body.project = { domain: DOMAIN, id: project.id, name: project.name };
    body.roles = token.roles.map((name) => {
      const role = Object.values(state.roles).find((r) => r.name === name);
      return { id: role?.id ?? name, name };
    });
    if (withCatalog) body.catalog = buildCatalog(sim.urls, project.id);
  }
  return { token: body };
}
