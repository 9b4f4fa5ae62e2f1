import type { ServiceCatalog } from '../openstack/keystone.js';

/** The authenticated caller of a request, as Keystone describes its token. */
export interface Caller {
  token: string;
  userId: string;
  userName: string;
  projectId: string;
  projectName: string;
  roles: string[];
  expiresAt: Date;
  catalog?: ServiceCatalog;
}

const WRITER_ROLES = new Set(['admin', 'member', '_member_']);

export const isAdmin = (caller: Caller) => caller.roles.includes('admin');

/** `reader` (and any role that is not admin or member) may only read. */
export const canWrite = (caller: Caller) => caller.roles.some((role) => WRITER_ROLES.has(role));
