import type { Stack, UserName } from '../support/stack.js';

// Calls through the two new doors, as a client would make them over HTTP.

export interface GraphQLResponse {
  status: number;
  body: {
    data?: any;
    errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
  };
}

export async function graphql(
  stack: Stack,
  user: UserName | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse> {
  const response = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(user ? { 'x-auth-token': await stack.token(user) } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse['body'] };
}

/** Base64 `Type:uuid`, the Relay global id Pothos gives a node. */
export const globalId = (typename: string, id: string) => Buffer.from(`${typename}:${id}`).toString('base64');

/** A GraphQL subscription over SSE (distinct connections): every `next` payload until `complete`. */
export async function* subscribe(
  stack: Stack,
  user: UserName,
  query: string,
  variables: Record<string, unknown>,
  signal?: AbortSignal,
): AsyncGenerator<{ data?: any; errors?: unknown[] }> {
  const response = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      'x-auth-token': await stack.token(user),
    },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  if (!response.ok || !response.body)
    throw new Error(`subscribe: HTTP ${response.status} ${await response.text()}`);
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (event === 'complete') return;
        if (event === 'next' && data) yield JSON.parse(data);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Waits until no job is queued or running, so that a test file's stack closes with nothing left
 * half-done (a job still compensating while its database is dropped would fail loudly).
 */
export async function settleJobs(stack: Stack, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const busy = await stack.db.prisma.job.count({ where: { status: { in: ['queued', 'running'] } } });
    if (busy === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('jobs still queued or running after the tests');
}
