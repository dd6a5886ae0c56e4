import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../../src/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

/** Migrates one SQLite file with the real migrations; every test gateway starts from a copy. */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-test-'));
  const file = join(dir, 'template.db');
  await migrateDatabase({ databaseUrl: `file:${file}` });
  project.provide('templateDatabase', file);
  return () => rmSync(dir, { recursive: true, force: true });
}
