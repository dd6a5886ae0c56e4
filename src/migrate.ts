import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Config } from './config.js';
import { createPrisma, type PrismaClient } from './db.js';

const run = promisify(execFile);
const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const migrationsDir = join(projectRoot, 'prisma', 'migrations');

/** Names of the migrations committed under prisma/migrations, in the order they apply. */
export function committedMigrations(): string[] {
  return readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(migrationsDir, entry.name, 'migration.sql')))
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

/**
 * Names of the committed migrations that the database has not applied yet. Pass the client
 * the caller already has, so that checking costs no second connection.
 */
export async function pendingMigrations(config: Pick<Config, 'databaseUrl'>, client?: PrismaClient): Promise<string[]> {
  const prisma = client ?? (await createPrisma(config));
  try {
    const applied = await appliedMigrations(prisma);
    return committedMigrations().filter((name) => !applied.has(name));
  } finally {
    if (!client) await prisma.$disconnect();
  }
}

/**
 * Applies the committed migrations (prisma/migrations) with Prisma's own `migrate deploy`, so the
 * history table stays the one Prisma tooling expects. It is only started when something is
 * pending: Prisma's migration engine wants the SQLite file to itself, and a running server (or
 * the CLI next to it) keeps it open.
 */
export async function migrateDatabase(config: Pick<Config, 'databaseUrl'>): Promise<string[]> {
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
