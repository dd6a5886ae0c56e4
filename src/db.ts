import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { PrismaClient } from './generated/prisma/client.js';
import { PrismaClient as PostgresPrismaClient } from './generated/prisma-pg/client.js';
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import { enableDirectReads, tracked, type ConnectionTracking } from './direct-reads.js';
import { ReusingPrismaBetterSQLite3 } from './statement-cache.js';

export type { PrismaClient };

export interface CreatePrismaOptions {
  /** Receives every SQL statement and its parameters (JSON); tests use it to assert query counts and plans. */
  onQuery?: (sql: string, params: string) => void;
  /** Told when a pooled PostgreSQL connection breaks while idle (the server went away). */
  logger?: Logger;
}

export type DatabaseConfig = Pick<Config, 'databaseUrl'> & Partial<Pick<Config, 'databaseTimeoutMs'>>;

const DEFAULT_TIMEOUT_MS = 5_000;

export const isPostgresUrl = (databaseUrl: string) => /^postgres(ql)?:\/\//.test(databaseUrl);

/** Path of the SQLite file named by a `file:` URL, relative to the working directory. */
export function sqliteFile(databaseUrl: string): string {
  return resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''));
}

/**
 * Builds the Prisma client for the configured database: SQLite for `file:` URLs, PostgreSQL for
 * `postgresql://` ones. Nothing connects to PostgreSQL until the first query.
 *
 * Prisma generates one client per provider and refuses an adapter of another provider, so there
 * are two generated clients from one model definition (prisma/postgresql/ is derived from
 * prisma/schema.prisma). The code is written against the SQLite client's types; `npm run
 * typecheck` checks the same code against the PostgreSQL client too, so the one cast below is
 * between clients that both fit the code.
 */
export async function createPrisma(config: DatabaseConfig, options: CreatePrismaOptions = {}): Promise<PrismaClient> {
  const log = options.onQuery ? [{ emit: 'event' as const, level: 'query' as const }] : [];
  const timeoutMs = config.databaseTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const postgres = isPostgresUrl(config.databaseUrl);
  let prisma: PrismaClient;
  let connection: ConnectionTracking;
  if (postgres) {
    const adapter = postgresAdapter(config.databaseUrl, timeoutMs, options.logger);
    connection = adapter;
    prisma = new PostgresPrismaClient({ adapter, log, errorFormat: 'minimal' }) as unknown as PrismaClient;
  } else {
    const file = sqliteFile(config.databaseUrl);
    mkdirSync(dirname(file), { recursive: true });
    const adapter = new ReusingPrismaBetterSQLite3({ url: file, timeout: timeoutMs });
    connection = adapter;
    prisma = new PrismaClient({ adapter, log, errorFormat: 'minimal' });
  }
  enableDirectReads(prisma, { provider: postgres ? 'postgres' : 'sqlite', adapter: () => connection.connected, onQuery: options.onQuery });
  if (options.onQuery) {
    const onQuery = options.onQuery;
    prisma.$on('query' as never, (event: { query: string; params: string }) => onQuery(event.query, event.params));
  }
  if (!postgres) {
    // WAL lets readers proceed while a delete commits; NORMAL sync is safe with WAL.
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await prisma.$queryRawUnsafe('PRAGMA synchronous = NORMAL');
  }
  return prisma;
}

/** Prisma's PostgreSQL adapter, remembering its current connection pool for direct reads. */
class TrackedPrismaPg extends PrismaPg implements ConnectionTracking {
  connected: SqlDriverAdapter | undefined;

  override async connect() {
    return tracked(await super.connect(), (current) => (this.connected = current));
  }
}

function postgresAdapter(databaseUrl: string, timeoutMs: number, logger: Logger | undefined): TrackedPrismaPg {
  return new TrackedPrismaPg(
    {
      connectionString: databaseUrl,
      application_name: 'memory-gateway',
      // The adapter writes timestamps without an offset and reads them back as UTC, so the
      // session must be UTC whatever the server's default.
      options: '-c TimeZone=UTC',
      // A database that is down or unreachable fails requests within these bounds instead of
      // hanging them: waiting for a (new or pooled) connection, a statement on the server, and
      // an answer on the socket (a frozen server or a dropped network never answers at all).
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1_000,
      keepAlive: true,
    },
    {
      onPoolError: (error) => logger?.warn({ err: { message: error.message } }, 'PostgreSQL connection lost; the pool reconnects on the next query'),
    },
  );
}

// Driver adapter error kinds, PostgreSQL SQLSTATEs (class 08 connection exceptions, 57P0x
// shutdown/starting up, 57014 statement timeout, 53300 too many connections), Prisma codes and
// node-postgres messages that say the database did not answer, as opposed to refusing a query.
const UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|57014|53300)$/;
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Can't reach database server|Client has encountered a connection error|ECONNREFUSED|ECONNRESET|SQLITE_BUSY|database is locked/;

/**
 * Whether an error means the store did not answer in time (down, unreachable, restarting, too
 * slow, or a SQLite file locked past the busy timeout): the request may be retried, and the
 * error says nothing about the query. Looks through wrapping errors (GraphQL, Prisma, adapter).
 */
export function isStoreUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const e = current as {
      kind?: unknown;
      code?: unknown;
      originalCode?: unknown;
      message?: unknown;
      cause?: unknown;
      originalError?: unknown;
      meta?: { driverAdapterError?: unknown };
    };
    if (typeof e.kind === 'string' && UNAVAILABLE_KINDS.has(e.kind)) return true;
    for (const code of [e.code, e.originalCode]) {
      if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_PRISMA_CODES.has(code))) return true;
    }
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
    queue.push(e.cause, e.originalError, e.meta?.driverAdapterError);
  }
  return false;
}

/**
 * Whether the store answers a trivial query within the configured timeout; for readiness
 * checks. Never throws.
 */
export async function storeReachable(prisma: PrismaClient): Promise<boolean> {
  try {
    await prisma.$queryRawUnsafe('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
