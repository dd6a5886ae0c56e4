import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../../src/migrate.js';
import { adminQuery, startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A SQLite file every migration has been applied to; test gateways start from a copy. */
    templateDatabase: string;
    /** The test run's PostgreSQL server, as its superuser (database `postgres`). */
    postgresUrl: string;
    /** A database on it every migration has been applied to; test databases are copies. */
    postgresTemplate: string;
  }
}

const POSTGRES_TEMPLATE = 'gateway_template';

/**
 * Once per test run: one SQLite file and one PostgreSQL database migrated with the real
 * migrations (each test gets a copy), and the PostgreSQL server they live on.
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-test-'));
  const file = join(dir, 'template.db');
  const postgres = await startPostgres();
  try {
    await adminQuery(postgres.url(), `CREATE DATABASE "${POSTGRES_TEMPLATE}"`);
    await Promise.all([
      migrateDatabase({ databaseUrl: `file:${file}` }),
      migrateDatabase({ databaseUrl: postgres.url(POSTGRES_TEMPLATE) }),
    ]);
    // Nothing may connect to a template while it is copied.
    await adminQuery(postgres.url(), `ALTER DATABASE "${POSTGRES_TEMPLATE}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
  } catch (error) {
    await postgres.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  project.provide('templateDatabase', file);
  project.provide('postgresUrl', postgres.url());
  project.provide('postgresTemplate', POSTGRES_TEMPLATE);
  return async () => {
    await postgres.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
}
