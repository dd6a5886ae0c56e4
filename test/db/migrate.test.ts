import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrateDatabase, migrationsDir } from '../../src/migrate.js';
import { migrationNames } from '../../scripts/lib/postgresql-schema.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';

describe('migrations at start on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createDatabase(inject('postgresUrl'));
  });
  afterAll(async () => db?.drop());

  it('instances starting together on an empty database apply each migration once; the others find nothing to do', async () => {
    const committed = migrationNames(migrationsDir(db.url));
    const results = await Promise.all([1, 2, 3].map(() => migrateDatabase({ databaseUrl: db.url })));
    expect(results.filter((applied) => applied.length > 0)).toEqual([committed]);
    expect(results.filter((applied) => applied.length === 0)).toHaveLength(2);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name');
      expect(rows.map((row) => row.migration_name)).toEqual(committed);
    } finally {
      await client.end();
    }
    expect(await migrateDatabase({ databaseUrl: db.url })).toEqual([]);
  }, 120_000);

  it('an unreachable database is one line naming where, without the password', async () => {
    const url = 'postgresql://gateway:s3cret@127.0.0.1:1/gateway';
    const error = await migrateDatabase({ databaseUrl: url, databaseTimeoutMs: 1_000 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^Cannot reach the database at 127\.0\.0\.1:1\/gateway: .+$/);
    expect((error as Error).message).not.toContain('s3cret');
  });
});
