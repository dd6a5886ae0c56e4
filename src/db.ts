import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import type { Config } from './config.js';
import { PrismaClient } from './generated/prisma/client.js';

export type { PrismaClient };

export interface CreatePrismaOptions {
  /** Receives every SQL statement; tests use it to assert query counts. */
  onQuery?: (sql: string) => void;
}

/** Path of the SQLite file named by a `file:` URL, relative to the working directory. */
export function sqliteFile(databaseUrl: string): string {
  return resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''));
}

/**
 * Builds the Prisma client for the configured database. Nothing connects until the first query.
 */
export async function createPrisma(config: Pick<Config, 'databaseUrl'>, options: CreatePrismaOptions = {}) {
  // Only the SQLite adapter is wired in so far; without this a postgresql:// URL would silently
  // become a SQLite file under ./postgresql:/…
  if (!config.databaseUrl.startsWith('file:')) {
    throw new Error('DATABASE_URL: only SQLite (file:…) is supported by this version; PostgreSQL is not wired in yet');
  }
  const file = sqliteFile(config.databaseUrl);
  mkdirSync(dirname(file), { recursive: true });
  const adapter = new PrismaBetterSQLite3({ url: file, timeout: 5000 });
  const prisma = new PrismaClient({
    adapter,
    log: options.onQuery ? [{ emit: 'event', level: 'query' }] : [],
  });
  if (options.onQuery) {
    const onQuery = options.onQuery;
    prisma.$on('query' as never, (event: { query: string }) => onQuery(event.query));
  }
  // WAL lets readers proceed while a delete commits; NORMAL sync is safe with WAL.
  await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
  await prisma.$queryRawUnsafe('PRAGMA synchronous = NORMAL');
  return prisma;
}
