import { type Stack, type UserName, waitFor } from './stack.js';

/** Polls an instance snapshot or backup through /v1 until it reaches one of `statuses`. */
export async function waitForInstanceArtifact(
  stack: Stack,
  user: UserName,
  kind: 'snapshot' | 'backup',
  id: string,
  statuses: string[] = ['available'],
  timeoutMs = 120_000,
) {
  return waitFor(
    `instance ${kind} ${id} to be ${statuses.join('/')}`,
    async () => {
      const { body, status } = await stack.v1(user, 'GET', `/instance/${kind}/${id}`);
      const item = body?.[kind];
      if (status === 200 && statuses.includes(item.status)) return item;
      if (status === 200 && item.status === 'error' && !statuses.includes('error'))
        throw new Error(`instance ${kind} ${id} failed: ${item.fail_reason}`);
      return undefined;
    },
    timeoutMs,
  );
}

/** Polls until an instance snapshot or backup is gone (404). */
export async function waitForInstanceArtifactGone(
  stack: Stack,
  user: UserName,
  kind: 'snapshot' | 'backup',
  id: string,
) {
  return waitFor(`instance ${kind} ${id} to be deleted`, async () => {
    const { body, status } = await stack.v1(user, 'GET', `/instance/${kind}/${id}`);
    if (status === 200 && body[kind].status === 'error_deleting')
      throw new Error(`instance ${kind} ${id} could not be deleted: ${body[kind].fail_reason}`);
    return status === 404 ? true : undefined;
  });
}
