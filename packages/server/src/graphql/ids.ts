import { decodeGlobalID } from '@pothos/plugin-relay';
import { badRequest } from '../domain/errors.js';
import { uuid } from '../domain/inputs.js';

/**
 * The UUID behind an id argument: a global (Relay) id of the expected type, or the UUID itself as
 * /v1 and tRPC name it.
 */
export function parseId(raw: string, typename: string): string {
  if (uuid.safeParse(raw).success) return raw;
  let decoded: { typename: string; id: string } | undefined;
  try {
    decoded = decodeGlobalID(raw);
  } catch {}
  if (!decoded || decoded.typename !== typename || !uuid.safeParse(decoded.id).success) {
    throw badRequest(`Invalid ${typename} id ${JSON.stringify(raw)}: expected its global id or UUID.`);
  }
  return decoded.id;
}
