import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { defineConfig } from 'prisma/config';

// Used by the Prisma CLI only (generate, migrate deploy, migrate diff). The server builds its
// own client in src/db.ts from the validated configuration.
const url = process.env.DATABASE_URL ?? 'file:./data/memory-gateway.db';
process.env.DATABASE_URL = url;

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  async adapter() {
    const file = url.replace(/^file:/, '');
    mkdirSync(dirname(file), { recursive: true });
    return new PrismaBetterSQLite3({ url: file });
  },
});
