import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { poolConfigFromUrl } from './urls.js';

export type Db = PrismaClient;

export function createPrismaClient(databaseUrl: string, options: { poolSize?: number } = {}): Db {
  const adapter = new PrismaPg(poolConfigFromUrl(databaseUrl, { max: options.poolSize ?? 10 }));
  return new PrismaClient({ adapter });
}
