import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { poolConfigFromUrl } from './urls.js';

export type Db = PrismaClient;

export function createPrismaClient(databaseUrl: string, options: { poolSize?: number } = {}): Db {
  const adapter = new PrismaPg(poolConfigFromUrl(databaseUrl, { max: options.poolSize ?? 20 }), {
    statementNameGenerator: preparedStatementName,
  });
  // Prisma's defaults (2 s to get a connection, 5 s per transaction) turn a busy moment into a 500;
  // our transactions are short, so waiting longer is the right trade.
  return new PrismaClient({ adapter, transactionOptions: { maxWait: 15_000, timeout: 30_000 } });
}

// Named statements are parsed and planned once per connection instead of on every query (a list
// page's rendering statement costs more to parse and plan than to run). The name is the SQL's hash,
// so the same text always meets its own statement; the memo keeps hashing off the hot path.
const statementNames = new Map<string, string>();
function preparedStatementName({ sql }: { sql: string }): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `p${createHash('sha1').update(sql).digest('base64url')}`;
    if (statementNames.size >= 5000) statementNames.clear();
    statementNames.set(sql, name);
  }
  return name;
}
