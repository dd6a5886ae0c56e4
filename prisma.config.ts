import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

// Used by the Prisma CLI only (migrate deploy, migrate diff): DATABASE_URL picks the store, its
// schema and its migrations. The server builds its own client in src/db.ts from the validated
// configuration. `npm run build` names each schema explicitly, so generating the clients does
// not depend on DATABASE_URL.
const url = process.env.DATABASE_URL || 'file:./data/memory-gateway.db';
const postgres = /^postgres(ql)?:\/\//.test(url);

/**
 * Prisma Migrate's engine reads PostgreSQL catalog columns of type `name`, `name[]` and `"char"`, which
 * @prisma/adapter-pg 6.19 cannot map, so every migrate command fails with "Column type 'name'
 * could not be deserialized" (https://github.com/prisma/prisma/issues/27403). They hold plain
 * strings: node-postgres is told they are text, in this (Prisma CLI) process only.
 */
function readNameColumnsAsText() {
  const { default: Result } = { default: createRequire(import.meta.url)('pg/lib/result.js') } as {
    default: { prototype: { addFields(fields: { dataTypeID: number }[]): void; nameAsText?: true } };
  };
  if (Result.prototype.nameAsText) return;
  const addFields = Result.prototype.addFields;
  const asText: Record<number, number> = { 18: 25, 19: 25, 1003: 1009 };
  Result.prototype.addFields = function (fields) {
    for (const field of fields) field.dataTypeID = asText[field.dataTypeID] ?? field.dataTypeID;
    addFields.call(this, fields);
  };
  Result.prototype.nameAsText = true;
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: postgres ? 'prisma/postgresql/schema.prisma' : 'prisma/schema.prisma',
  migrations: { path: postgres ? 'prisma/postgresql/migrations' : 'prisma/migrations' },
  async adapter() {
    if (postgres) {
      readNameColumnsAsText();
      return new PrismaPg({ connectionString: url });
    }
    const file = url.replace(/^file:/, '');
    mkdirSync(dirname(file), { recursive: true });
    return new PrismaBetterSQLite3({ url: file });
  },
});
