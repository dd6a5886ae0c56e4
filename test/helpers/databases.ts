import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createDatabase, type TestDatabase } from './postgres.js';

/** The two local stores the gateway supports. */
export type TestStore = 'sqlite' | 'postgresql';

export const STORES: readonly TestStore[] = ['sqlite', 'postgresql'];

/**
 * A migrated database of its own for one test: a copy of the run's SQLite template, or a new
 * PostgreSQL database made from the migrated template on the run's server (global-setup.ts).
 */
export async function testDatabase(store: TestStore): Promise<TestDatabase> {
  if (store === 'postgresql') return createDatabase(inject('postgresUrl'), inject('postgresTemplate'));
  const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-db-'));
  const file = join(dir, 'gateway.db');
  copyFileSync(inject('templateDatabase'), file);
  return { url: `file:${file}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}
