import { randomBytes, randomUUID } from 'node:crypto';

/** Keystone ids: 32 hex characters, no dashes. */
export const hex32 = (): string => randomBytes(16).toString('hex');
export const uuid = (): string => randomUUID();
export const requestId = (): string => `req-${randomUUID()}`;
/** Opaque Fernet-looking token. */
export const tokenId = (): string => `gAAAAA${randomBytes(96).toString('base64url')}`;
/** Keystone audit ids: 16 random bytes, url-safe base64 without padding (22 characters). */
export const auditId = (): string => randomBytes(16).toString('base64url');

export const isUuid = (s: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
