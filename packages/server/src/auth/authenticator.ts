import { LRUCache } from 'lru-cache';
import { unauthorized } from '../domain/errors.js';
import type { OpenStackCloud } from '../openstack/cloud.js';
import type { Caller } from './caller.js';

/**
 * Validates callers' X-Auth-Token with Keystone (the service's own token asking about the caller's)
 * and remembers a valid answer until min(expiry, cacheSeconds). Invalid answers are not cached, so a
 * token fixed a moment later works at once.
 */
export class Authenticator {
  private readonly cache: LRUCache<string, Caller>;

  constructor(
    private readonly cloud: OpenStackCloud,
    private readonly cacheSeconds = 300,
  ) {
    this.cache = new LRUCache({ max: 10_000 });
  }

  async authenticate(token: string | undefined): Promise<Caller> {
    if (!token) throw unauthorized();
    const cached = this.cache.get(token);
    if (cached && cached.expiresAt.getTime() > Date.now()) return cached;
    const body = await this.cloud.session.withToken((service) =>
      this.cloud.keystone.validateToken(service.id, token),
    );
    if (!body?.project) throw unauthorized();
    const expiresAt = new Date(body.expires_at);
    if (expiresAt.getTime() <= Date.now()) throw unauthorized();
    const caller: Caller = {
      token,
      userId: body.user.id,
      userName: body.user.name,
      projectId: body.project.id,
      projectName: body.project.name,
      roles: body.roles.map((role) => role.name),
      expiresAt,
      catalog: body.catalog,
    };
    this.cache.set(token, caller, {
      ttl: Math.min(expiresAt.getTime() - Date.now(), this.cacheSeconds * 1000),
    });
    return caller;
  }
}
