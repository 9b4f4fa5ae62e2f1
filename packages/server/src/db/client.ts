import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { poolConfigFromUrl } from './urls.js';

export type Db = PrismaClient;

export function createPrismaClient(databaseUrl: string, options: { poolSize?: number } = {}): Db {
  const adapter = new PrismaPg(poolConfigFromUrl(databaseUrl, { max: options.poolSize ?? 20 }));
  // Prisma's defaults (2 s to get a connection, 5 s per transaction) turn a busy moment into a 500;
  // our transactions are short, so waiting longer is the right trade.
  return new PrismaClient({ adapter, transactionOptions: { maxWait: 15_000, timeout: 30_000 } });
}
