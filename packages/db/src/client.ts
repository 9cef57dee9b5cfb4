// The Prisma client factory: every Postgres connection of the app goes through here (DESIGN.md §1).
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';

export type Db = PrismaClient;

export interface CreateDbOptions {
  /** Upper bound on pooled connections (pg's default is 10). */
  maxConnections?: number;
}

/** A PrismaClient over @prisma/adapter-pg (Prisma 7 needs a driver adapter; no native query engine). */
export function createDb(databaseUrl: string, options: CreateDbOptions = {}): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.maxConnections ?? 10 });
  return new PrismaClient({ adapter });
}
