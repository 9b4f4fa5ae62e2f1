import { lookupToken } from '../common/auth.js';
import { badRequest, forbidden, keystoneErrorBody, notFound, unauthorized } from '../common/errors.js';
import type { Reply, RequestContext, Router } from '../common/http.js';
import type { Sim } from '../sim/context.js';
import type { Token, User } from '../state/types.js';
import { effectiveRoles, projectByName } from './identity.js';
import { issueToken, tokenBody } from './tokens.js';

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

const inDefaultDomain = (domain: unknown): boolean => {
  const d = obj(domain);
  return !d || d.id === 'default' || d.name === 'Default';
};

function versionDoc(sim: Sim) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${sim.urls.keystone}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

/** The caller's own token (X-Auth-Token), or 401. */
function callerToken(ctx: RequestContext, sim: Sim): Token {
  const token = lookupToken(sim.store, ctx.header('x-auth-token'));
  if (!token) throw unauthorized();
  return token;
}

function authenticate(sim: Sim, body: unknown): { user: User; parent?: Token; methods: string[] } {
  const identity = obj(obj(obj(body)?.auth)?.identity);
  const methods = identity?.methods;
  if (!identity || !Array.isArray(methods) || methods.length === 0) {
    throw badRequest(
      'Expecting to find identity in auth. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
  }
  const state = sim.store.state;
  if (methods.includes('password')) {
    const u = obj(obj(identity.password)?.user);
    if (!u || typeof u.password !== 'string') throw badRequest('Expecting to find password in identity.');
    const user =
      typeof u.id === 'string'
        ? state.users[u.id]
        : Object.values(state.users).find((x) => x.name === u.name && inDefaultDomain(u.domain));
    if (!user || user.password !== u.password) throw unauthorized();
    return { user, methods: ['password'] };
  }
  if (methods.includes('token')) {
    const parent = lookupToken(sim.store, obj(identity.token)?.id as string | undefined);
    const user = parent ? state.users[parent.user_id] : undefined;
    if (!parent || !user) throw unauthorized();
    return {
      user,
      parent,
      methods: parent.methods.includes('token') ? parent.methods : [...parent.methods, 'token'],
    };
  }
  throw unauthorized(`Attempted to authenticate with an unsupported method.`);
}

/** Project scope from `auth.scope`; no scope means the user's default project (Keystone v3). */
function resolveScope(sim: Sim, body: unknown, user: User): string | null {
  const scope = obj(obj(body)?.auth)?.scope;
  if (scope === 'unscoped') return null;
  if (scope === undefined) return user.default_project_id;
  const project = obj(obj(scope)?.project);
  if (!project) throw unauthorized('Only project scope is simulated.');
  const found =
    typeof project.id === 'string'
      ? sim.store.state.projects[project.id]
      : inDefaultDomain(project.domain) && typeof project.name === 'string'
        ? projectByName(sim.store.state, project.name)
        : undefined;
  if (!found) throw unauthorized();
  return found.id;
}

export function keystoneRoutes(router: Router, sim: Sim): void {
  router.add('GET', '/', () => ({ status: 300, body: { versions: { values: [versionDoc(sim)] } } }));
  router.add('GET', '/v3', () => ({ status: 200, body: { version: versionDoc(sim) } }));

  router.add('POST', '/v3/auth/tokens', async (ctx): Promise<Reply> => {
    const body = await ctx.json();
    const { user, parent, methods } = authenticate(sim, body);
    const projectId = resolveScope(sim, body, user);
    let roles: string[] = [];
    if (projectId) {
      roles = effectiveRoles(sim.store.state, user.id, projectId);
      if (roles.length === 0) throw unauthorized(`User ${user.id} has no access to project ${projectId}.`);
    }
    const token = issueToken(sim, user.id, projectId, roles, methods, parent?.audit_ids[0]);
    return {
      status: 201,
      headers: { 'x-subject-token': token.id },
      body: tokenBody(sim, token, !ctx.query.has('nocatalog')),
    };
  });

  /** Validation: a valid caller token (401) that may validate (admin, service or the subject itself). */
  const subject = (ctx: RequestContext): Token => {
    const caller = callerToken(ctx, sim);
    const subjectId = ctx.header('x-subject-token');
    const subj = lookupToken(sim.store, subjectId);
    const privileged = caller.roles.includes('admin') || caller.roles.includes('service');
    if (!privileged && subjectId !== caller.id) {
      throw forbidden('You are not authorized to perform the requested action: identity:validate_token.');
    }
    if (!subj) throw notFound(`Could not find token: ${subjectId ?? ''}.`);
    return subj;
  };
  router.add('GET', '/v3/auth/tokens', (ctx): Reply => {
    const token = subject(ctx);
    return {
      status: 200,
      headers: { 'x-subject-token': token.id },
      body: tokenBody(sim, token, !ctx.query.has('nocatalog')),
    };
  });
  router.add('HEAD', '/v3/auth/tokens', (ctx): Reply => {
    const token = subject(ctx);
    return { status: 200, headers: { 'x-subject-token': token.id } };
  });
  router.add('DELETE', '/v3/auth/tokens', (ctx): Reply => {
    const token = subject(ctx);
    delete sim.store.state.tokens[token.id];
    return { status: 204 };
  });

  router.add('GET', '/v3/auth/catalog', (ctx): Reply => {
    const token = callerToken(ctx, sim);
    const body = tokenBody(sim, token, true).token as Record<string, unknown>;
    return {
      status: 200,
      body: { catalog: body.catalog ?? [], links: { self: `${sim.urls.keystone}/v3/auth/catalog` } },
    };
  });

  const projectView = (p: { id: string; name: string; description: string }) => ({
    id: p.id,
    name: p.name,
    description: p.description,
    domain_id: 'default',
    enabled: true,
    is_domain: false,
    parent_id: 'default',
    tags: [],
    options: {},
    links: { self: `${sim.urls.keystone}/v3/projects/${p.id}` },
  });
  const userProjects = (userId: string) =>
    Object.values(sim.store.state.projects).filter(
      (p) => effectiveRoles(sim.store.state, userId, p.id).length > 0,
    );

  router.add('GET', '/v3/auth/projects', (ctx): Reply => {
    const token = callerToken(ctx, sim);
    return { status: 200, body: { projects: userProjects(token.user_id).map(projectView), links: {} } };
  });
  router.add('GET', '/v3/users/:id/projects', (ctx): Reply => {
    const token = callerToken(ctx, sim);
    if (ctx.params.id !== token.user_id && !token.roles.includes('admin')) {
      throw forbidden('You are not authorized to perform the requested action: identity:list_user_projects.');
    }
    return { status: 200, body: { projects: userProjects(ctx.params.id!).map(projectView), links: {} } };
  });
  router.add('GET', '/v3/projects', (ctx): Reply => {
    const token = callerToken(ctx, sim);
    if (!token.roles.includes('admin')) {
      throw forbidden('You are not authorized to perform the requested action: identity:list_projects.');
    }
    const name = ctx.query.get('name');
    const projects = Object.values(sim.store.state.projects).filter((p) => !name || p.name === name);
    return { status: 200, body: { projects: projects.map(projectView), links: {} } };
  });
  router.add('GET', '/v3/projects/:id', (ctx): Reply => {
    const token = callerToken(ctx, sim);
    const project = sim.store.state.projects[ctx.params.id!];
    if (!project || (!token.roles.includes('admin') && token.project_id !== project.id)) {
      throw notFound(`Could not find project: ${ctx.params.id}.`);
    }
    return { status: 200, body: { project: projectView(project) } };
  });
  router.add('GET', '/v3/users/:id', (ctx): Reply => {
    const token = callerToken(ctx, sim);
    const user = sim.store.state.users[ctx.params.id!];
    if (!user || (!token.roles.includes('admin') && token.user_id !== user.id)) {
      throw notFound(`Could not find user: ${ctx.params.id}.`);
    }
    return {
      status: 200,
      body: {
        user: {
          id: user.id,
          name: user.name,
          domain_id: 'default',
          default_project_id: user.default_project_id,
          enabled: true,
          password_expires_at: null,
          options: {},
          links: { self: `${sim.urls.keystone}/v3/users/${user.id}` },
        },
      },
    };
  });
  router.add('GET', '/v3/roles', (ctx): Reply => {
    callerToken(ctx, sim);
    const roles = Object.values(sim.store.state.roles).map((r) => ({
      id: r.id,
      name: r.name,
      domain_id: null,
      description: null,
      options: {},
      links: { self: `${sim.urls.keystone}/v3/roles/${r.id}` },
    }));
    return { status: 200, body: { roles, links: {} } };
  });
}

export function keystoneErrorReply(sim: Sim, status: number, message: string): Reply {
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = `Keystone uri="${sim.urls.keystone}"`;
  return { status, body: keystoneErrorBody(status, message), headers };
}
