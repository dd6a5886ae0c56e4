import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { derivePostgres, derivePostgresSchema, migrationNames, paths, projectRoot } from '../../scripts/lib/postgresql-schema.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';

const read = (path: string, root = projectRoot) => readFileSync(join(root, path), 'utf8');

/**
 * `prisma migrate diff --exit-code` between a migrations folder and a schema: the migrations are
 * replayed on a shadow database the PostgreSQL adapter creates next to `databaseUrl`.
 */
function migrationsDiff(databaseUrl: string, migrations: string, schema: string): Promise<{ code: number; output: string }> {
  const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
  const args = ['migrate', 'diff', '--from-migrations', migrations, '--to-schema-datamodel', schema, '--script', '--exit-code'];
  return new Promise((resolve) =>
    execFile(process.execPath, [prismaCli, ...args], { cwd: projectRoot, env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` }),
    ),
  );
}

describe('PostgreSQL schema and migrations, derived from prisma/schema.prisma', () => {
  it('prisma/postgresql/schema.prisma is the derivation of prisma/schema.prisma (run `npm run db:derive`)', () => {
    expect(read(paths.postgresSchema)).toBe(derivePostgresSchema(read(paths.sqliteSchema)));
  });

  it('keeps the models and their fields, and changes only the provider, the client output and the native types', () => {
    const derived = derivePostgresSchema(read(paths.sqliteSchema));
    const models = (text: string) => [...text.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)].map(([, name, body]) => [name, body!.replace(/ @db\.\w+(\(\d+\))?/g, '')]);
    expect(models(derived)).toEqual(models(read(paths.sqliteSchema)));
    expect(derived).toMatch(/provider = "postgresql"/);
    expect(derived).toMatch(/output\s+= "\.\.\/\.\.\/src\/generated\/prisma-pg"/);
    expect(derived).not.toMatch(/prisma-pothos-types/);
    expect(derived).toMatch(/createdAt\s+DateTime @default\(now\(\)\) @db\.Timestamptz\(3\)/);
    expect(derived).toMatch(/metadata\s+Json\? @db\.Json/);
  });

  describe('on a real database', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createDatabase(inject('postgresUrl'));
    });
    afterAll(async () => db?.drop());

    it('the PostgreSQL migrations build exactly the PostgreSQL schema (run `npm run db:derive`)', async () => {
      const diff = await migrationsDiff(db.url, paths.postgresMigrations, paths.postgresSchema);
      expect(diff, diff.output).toMatchObject({ code: 0 });
    });
  });

  describe('npm run db:derive', () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'memory-gateway-derive-test-'));
      cpSync(join(projectRoot, 'prisma'), join(root, 'prisma'), { recursive: true });
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('changes nothing when the PostgreSQL side is up to date', async () => {
      expect(await derivePostgres(root)).toEqual({ schemaChanged: false });
      expect(read(paths.postgresSchema, root)).toBe(read(paths.postgresSchema));
      expect(migrationNames(join(root, paths.postgresMigrations))).toEqual(migrationNames(join(projectRoot, paths.postgresMigrations)));
    });

    it('turns a new SQLite migration into a PostgreSQL migration of the same name with native types', async () => {
      const schema = read(paths.sqliteSchema, root).replace(/^(model Memory \{\n)/m, '$1  pinnedAt    DateTime?\n  extra       Json?\n');
      writeFileSync(join(root, paths.sqliteSchema), schema);
      const name = '29990101000000_pin_memories';
      mkdirSync(join(root, paths.sqliteMigrations, name));
      writeFileSync(join(root, paths.sqliteMigrations, name, 'migration.sql'), '-- the SQLite side of the change\n');

      expect(await derivePostgres(root)).toEqual({ schemaChanged: true, migration: name });
      const sql = read(join(paths.postgresMigrations, name, 'migration.sql'), root);
      expect(sql).toMatch(/ALTER TABLE "Memory" ADD COLUMN\s+"extra" JSON,\s*ADD COLUMN\s+"pinnedAt" TIMESTAMPTZ\(3\);/);
      expect(read(paths.postgresSchema, root)).toMatch(/pinnedAt\s+DateTime\? @db\.Timestamptz\(3\)/);
      // The earlier migrations are left as they were.
      for (const earlier of migrationNames(join(projectRoot, paths.postgresMigrations))) {
        expect(read(join(paths.postgresMigrations, earlier, 'migration.sql'), root)).toBe(read(join(paths.postgresMigrations, earlier, 'migration.sql')));
      }
      expect(existsSync(join(root, paths.postgresMigrations, 'migration_lock.toml'))).toBe(true);
    });
  });
});
