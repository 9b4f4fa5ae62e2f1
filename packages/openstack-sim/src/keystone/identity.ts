import { hex32 } from '../common/ids.js';
import type { Project, Role, RoleAssignment, SimState, User } from '../state/types.js';

/** The identities of ../shared/openstack-env (setup_keystone.py): password = user name. */
const PROJECTS = ['admin', 'demo', 'alt_demo', 'service'] as const;
const ROLES = ['admin', 'member', 'reader', 'service'] as const;
const USERS: Array<{ name: string; project: string; roles: string[] }> = [
  { name: 'admin', project: 'admin', roles: ['admin'] },
  { name: 'demo', project: 'demo', roles: ['member'] },
  { name: 'alt_demo', project: 'alt_demo', roles: ['member'] },
  { name: 'reader', project: 'demo', roles: ['reader'] },
  // The backup service's own user, like Cinder's service users: admin + service on `service`.
  { name: 'backup', project: 'service', roles: ['admin', 'service'] },
];

/** Keystone's default implied roles: admin ⇒ member ⇒ reader. Tokens list the implied ones too. */
const IMPLIES: Record<string, string[]> = { admin: ['member', 'reader'], member: ['reader'] };

export function seedIdentity(state: SimState): void {
  const projects: Record<string, Project> = {};
  const byName = new Map<string, string>();
  for (const name of PROJECTS) {
    const id = hex32();
    projects[id] = { id, name, description: `${name} project` };
    byName.set(name, id);
  }
  const roles: Record<string, Role> = {};
  const roleIds = new Map<string, string>();
  for (const name of ROLES) {
    const id = hex32();
    roles[id] = { id, name };
    roleIds.set(name, id);
  }
  const users: Record<string, User> = {};
  const assignments: RoleAssignment[] = [];
  for (const u of USERS) {
    const id = hex32();
    const projectId = byName.get(u.project)!;
    users[id] = { id, name: u.name, password: u.name, default_project_id: projectId };
    for (const r of u.roles)
      assignments.push({ user_id: id, project_id: projectId, role_id: roleIds.get(r)! });
  }
  Object.assign(state, { projects, roles, users, assignments });
}

export function projectByName(state: SimState, name: string): Project | undefined {
  return Object.values(state.projects).find((p) => p.name === name);
}

export function userByName(state: SimState, name: string): User | undefined {
  return Object.values(state.users).find((u) => u.name === name);
}

export function roleByName(state: SimState, name: string): Role | undefined {
  return Object.values(state.roles).find((r) => r.name === name);
}

/** Role names of a user on a project, implied roles included, in a stable order. */
export function effectiveRoles(state: SimState, userId: string, projectId: string): string[] {
  const direct = state.assignments
    .filter((a) => a.user_id === userId && a.project_id === projectId)
    .map((a) => state.roles[a.role_id]?.name)
    .filter((n): n is string => !!n);
  const out = new Set<string>();
  for (const r of direct) {
    out.add(r);
    for (const implied of IMPLIES[r] ?? []) out.add(implied);
  }
  return [...out];
}
