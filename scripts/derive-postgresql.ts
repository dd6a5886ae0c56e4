import { derivePostgres, paths } from './lib/postgresql-schema.js';

// Writes prisma/postgresql/ (schema and migrations) from prisma/schema.prisma; `npm test` fails
// when they drift. Run after adding a SQLite migration.
const result = await derivePostgres();
console.log(result.schemaChanged ? `wrote ${paths.postgresSchema}` : `${paths.postgresSchema} is up to date`);
if (result.migration) console.log(`wrote ${paths.postgresMigrations}/${result.migration}/migration.sql`);
