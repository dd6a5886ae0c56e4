import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { createPrisma, isPostgresUrl, type DatabaseConfig, type PrismaClient } from './db.js';

const run = promisify(execFile);
const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the store's committed migrations live: PostgreSQL's are derived from SQLite's (`npm run db:derive`). */
export function migrationsDir(databaseUrl: string): string {
  return isPostgresUrl(databaseUrl) ? join(projectRoot, 'prisma', 'postgresql', 'migrations') : join(projectRoot, 'prisma', 'migrations');
}

/** Names of the store's committed migrations, in the order they apply. */
export function committedMigrations(databaseUrl: string): string[] {
  const dir = migrationsDir(databaseUrl);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort();
}

/** Names of the migrations the database has applied; none when it has no history table yet. */
export async function appliedMigrations(prisma: PrismaClient): Promise<Set<string>> {
  try {
    const rows = await prisma.$queryRawUnsafe<{ migration_name: string }[]>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    return new Set(rows.map((row) => row.migration_name));
  } catch {
    // No history table yet: a new database.
    return new Set();
  }
}

/** Names of the committed migrations of the store that `prisma` has not applied yet. */
export async function pendingMigrationsOf(prisma: PrismaClient, databaseUrl: string): Promise<string[]> {
  const applied = await appliedMigrations(prisma);
  return committedMigrations(databaseUrl).filter((name) => !applied.has(name));
}

/** Where a database URL points, without its credentials: host, port and database, or the file. */
export function databaseLocation(databaseUrl: string): string {
  if (!isPostgresUrl(databaseUrl)) return databaseUrl.replace(/\?.*$/, '');
  const url = new URL(databaseUrl);
  return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
}

/** The driver's own words for why a query failed, on one line. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /Message: `([^`]*)`/.exec(message)?.[1] ?? message.trim().split('\n').at(-1) ?? message;
}

/**
 * Names of the committed migrations that the database has not applied yet. Pass the client the
 * caller already has, so that checking costs no second connection.
 */
export async function pendingMigrations(config: DatabaseConfig, client?: PrismaClient): Promise<string[]> {
  const prisma = client ?? (await createPrisma(config));
  try {
    // One clear line when the database is down, instead of Prisma Migrate's page about it.
    await prisma.$queryRawUnsafe('SELECT 1').catch((error: unknown) => {
      throw new Error(`Cannot reach the database at ${databaseLocation(config.databaseUrl)}: ${reasonOf(error)}`);
    });
    return await pendingMigrationsOf(prisma, config.databaseUrl);
  } finally {
    if (!client) await prisma.$disconnect();
  }
}

// Any fixed 64-bit key: Prisma's own (72707369) would make `migrate deploy` wait for us.
const MIGRATION_LOCK = 'memory-gateway:migrate';

/**
 * Runs `apply` while holding a PostgreSQL advisory lock, so instances starting together migrate
 * one after the other and the later ones find nothing left to do. `migrate deploy` has a lock of
 * its own, but gives up after 10 s, which a first migration on a busy server can outlast.
 */
async function whileMigrationLocked<T>(config: DatabaseConfig, apply: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: config.databaseTimeoutMs ?? 5_000 });
  // A broken connection while waiting surfaces as the lock query's failure.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new Error(`Cannot reach the database at ${databaseLocation(config.databaseUrl)}: ${reasonOf(error)}`);
  }
  try {
    await client.query(`SET lock_timeout = '5min'`);
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    return await apply();
  } finally {
    // Ending the session releases the lock.
    await client.end().catch(() => undefined);
  }
}

/**
 * Applies the committed migrations (prisma/migrations, or prisma/postgresql/migrations) with
 * Prisma's own `migrate deploy`, so the history table stays the one Prisma tooling expects. It is
 * only started when something is pending: Prisma's migration engine wants the SQLite file to
 * itself, and a running server (or the CLI next to it) keeps it open. On PostgreSQL, instances
 * starting together take turns (whileMigrationLocked).
 */
export async function migrateDatabase(config: DatabaseConfig): Promise<string[]> {
  if (isPostgresUrl(config.databaseUrl)) return whileMigrationLocked(config, () => applyPending(config));
  return applyPending(config);
}

async function applyPending(config: DatabaseConfig): Promise<string[]> {
  const pending = await pendingMigrations(config);
  if (pending.length === 0) return [];
  const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
  try {
    await run(process.execPath, [prismaCli, 'migrate', 'deploy', '--config', join(projectRoot, 'prisma.config.ts')], {
      cwd: process.cwd(),
      env: { ...process.env, DATABASE_URL: config.databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      timeout: 120_000,
    });
  } catch (error) {
    const err = error as { stdout?: string; stderr?: string; message: string };
    const detail = `${err.stderr ?? ''}${err.stdout ?? ''}`.trim() || err.message;
    throw new Error(`Database migration failed:\n${detail}`);
  }
  return pending;
}
