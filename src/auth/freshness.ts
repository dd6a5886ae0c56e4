import Database from 'better-sqlite3';
import pg from 'pg';
import type { Logger } from 'pino';
import { isPostgresUrl, sqliteFile } from '../db.js';
import { directProvider } from '../direct-reads.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';

/**
 * Whether an API key and its tenant's routing, read earlier in this process, are still what the
 * database holds. The authenticator keeps each verified key with the version it was read at and
 * serves the key again only while the version has not moved; a key revoked or a tenant re-routed
 * by any process (the CLI, another instance) moves it before that process's change is visible,
 * so the next request reads the key afresh.
 */
export interface AuthFreshness {
  /** The current version; undefined while nothing may be trusted (every request reads the key). */
  version(): number | undefined;
  close(): Promise<void>;
}

/** The PostgreSQL channel that writers of keys and tenants notify, inside their transaction. */
export const AUTH_CHANNEL = 'memory_gateway_auth';

/**
 * The statement that tells every instance that keys or tenants changed, for a writer's
 * `$transaction([...])`: PostgreSQL delivers the notification when (and only if) the transaction
 * commits. SQLite needs none: its own change counter sees every commit.
 */
export function authChanged(prisma: PrismaClient): Prisma.PrismaPromise<unknown>[] {
  return directProvider(prisma) === 'postgres' ? [prisma.$executeRawUnsafe(`SELECT pg_notify('${AUTH_CHANNEL}', '')`)] : [];
}

export function authFreshness(databaseUrl: string, logger: Logger): AuthFreshness {
  return isPostgresUrl(databaseUrl) ? postgresFreshness(databaseUrl, logger) : sqliteFreshness(databaseUrl);
}

/**
 * SQLite: `PRAGMA data_version` on a connection of its own, which moves whenever any other
 * connection (this process's included) commits. Every commit counts, not only to keys and
 * tenants, so a write-heavy minute reads keys more often; a read costs one pragma (microseconds).
 */
function sqliteFreshness(databaseUrl: string): AuthFreshness {
  // Never written through; opened read-write like the others so that it shares their WAL index.
  const db = new Database(sqliteFile(databaseUrl));
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  return {
    version: () => dataVersion.get() as number,
    async close() {
      db.close();
    },
  };
}

/**
 * PostgreSQL: a connection of its own that LISTENs on AUTH_CHANNEL. A notification moves the
 * version; so does losing the connection, and until it listens again nothing is trusted (it
 * reconnects by itself, backing off up to 30 s).
 */
function postgresFreshness(databaseUrl: string, logger: Logger): AuthFreshness {
  let version = 0;
  let listening = false;
  let closed = false;
  let client: pg.Client | undefined;
  let retryMs = 500;
  let timer: NodeJS.Timeout | undefined;

  const lost = (reason: string) => {
    if (!listening && !client) return;
    listening = false;
    version += 1;
    const dropped = client;
    client = undefined;
    dropped?.end().catch(() => undefined);
    if (closed) return;
    logger.warn({ reason }, 'key cache: change notifications lost; keys are read on every request until they are back');
    timer = setTimeout(listen, retryMs);
    timer.unref();
    retryMs = Math.min(retryMs * 2, 30_000);
  };

  async function listen() {
    const connection = new pg.Client({ connectionString: databaseUrl, application_name: 'memory-gateway', keepAlive: true, connectionTimeoutMillis: 5_000 });
    client = connection;
    connection.on('notification', () => {
      version += 1;
    });
    connection.on('error', (error) => lost(error.message));
    connection.on('end', () => lost('connection ended'));
    try {
      await connection.connect();
      await connection.query(`LISTEN ${AUTH_CHANNEL}`);
      if (closed || client !== connection) return;
      // Whatever changed while nobody listened is covered: the version moves on.
      version += 1;
      listening = true;
      retryMs = 500;
    } catch (error) {
      if (client === connection) lost(error instanceof Error ? error.message : String(error));
    }
  }

  void listen();
  return {
    version: () => (listening ? version : undefined),
    async close() {
      closed = true;
      listening = false;
      clearTimeout(timer);
      const last = client;
      client = undefined;
      await last?.end().catch(() => undefined);
    },
  };
}
