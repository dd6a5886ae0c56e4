import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * prisma/schema.prisma (SQLite) is the one model definition. Prisma wants one `provider` per
 * schema, so the PostgreSQL schema and its migrations are derived from it here, never edited by
 * hand: `npm run db:derive` writes them and a test fails when they drift.
 */

const run = promisify(execFile);

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const paths = {
  sqliteSchema: 'prisma/schema.prisma',
  sqliteMigrations: 'prisma/migrations',
  postgresSchema: 'prisma/postgresql/schema.prisma',
  postgresMigrations: 'prisma/postgresql/migrations',
} as const;

/** Native PostgreSQL types for the portable Prisma types whose default column would differ. */
const NATIVE_TYPES: Record<string, string> = {
  // timestamptz, not Prisma's default `timestamp`: an instant stays an instant whatever the
  // server's or the session's time zone (the adapter also pins the session to UTC, src/db.ts).
  DateTime: '@db.Timestamptz(3)',
  // json, not Prisma's default jsonb: jsonb reorders object keys, and SQLite returns metadata
  // exactly as it was written. Nothing filters or indexes on these columns.
  Json: '@db.Json',
};

const HEADER = `// GENERATED from prisma/schema.prisma by \`npm run db:derive\` (scripts/lib/postgresql-schema.ts).
// Do not edit: change prisma/schema.prisma, add its SQLite migration, then run \`npm run db:derive\`.
`;

const BLOCK = /^(generator|datasource|model|enum|view|type)\s+(\w+)\s*\{\n([\s\S]*?)^\}\n?/gm;

/** The PostgreSQL schema for a SQLite schema text: same models, PostgreSQL datasource and output. */
export function derivePostgresSchema(sqlite: string): string {
  const derived = sqlite.replace(BLOCK, (block, kind: string, name: string, body: string) => {
    if (kind === 'generator') return deriveGenerator(block, name, body);
    if (kind === 'datasource') return datasourceBlock(name, body);
    if (kind === 'model') return `model ${name} {\n${body.split('\n').map(nativeField).join('\n')}}\n`;
    return block;
  });
  return HEADER + '\n' + derived.replace(/\n{3,}/g, '\n\n');
}

function setting(body: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'm').exec(body)?.[1];
}

function deriveGenerator(block: string, name: string, body: string): string {
  // The Pothos types describe the models, which both schemas share: they are generated from the
  // SQLite schema only, and the server uses them with either client.
  if (setting(body, 'provider') !== 'prisma-client') return '';
  const output = setting(body, 'output');
  if (!output) throw new Error(`generator ${name} in ${paths.sqliteSchema} needs an output`);
  // Outputs are relative to the schema file; the PostgreSQL client goes next to the SQLite one.
  const fromRoot = posix.join(posix.dirname(paths.sqliteSchema), output);
  const rebased = posix.relative(posix.dirname(paths.postgresSchema), fromRoot) + '-pg';
  return block.replace(/^(\s*output\s*=\s*)"[^"]*"/m, `$1"${rebased}"`);
}

function datasourceBlock(name: string, body: string): string {
  if (setting(body, 'provider') !== 'sqlite') throw new Error(`${paths.sqliteSchema}: datasource ${name} must use provider "sqlite"`);
  return [
    `datasource ${name} {`,
    '  provider = "postgresql"',
    '  url      = "postgresql://localhost/memory-gateway"',
    '}',
    '',
  ].join('\n');
}

const FIELD = /^(\s+)(\w+)(\s+)(\w+)(\??)(.*)$/;

function nativeField(line: string): string {
  const match = FIELD.exec(line);
  if (!match || line.trimStart().startsWith('//') || line.trimStart().startsWith('@@')) return line;
  const [, , , , type, , rest] = match;
  const native = NATIVE_TYPES[type!];
  if (!native || /@db\./.test(rest!)) return line;
  const comment = rest!.indexOf('//');
  return comment === -1 ? `${line.trimEnd()} ${native}` : `${line.slice(0, line.length - rest!.length + comment).trimEnd()} ${native} ${rest!.slice(comment)}`;
}

const prismaCli = () => createRequire(import.meta.url).resolve('prisma/build/index.js');

/** The SQL that takes a PostgreSQL database from one schema file to another (no database needed). */
export async function diffScript(from: string | null, to: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [prismaCli(), 'migrate', 'diff', ...(from ? ['--from-schema-datamodel', from] : ['--from-empty']), '--to-schema-datamodel', to, '--script'],
    // The default config picks the schema from DATABASE_URL; a diff of two files needs neither.
    { cwd: projectRoot, env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1' }, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

export const migrationNames = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
        .map((entry) => entry.name)
        .sort()
    : [];

const isEmptyScript = (sql: string) => sql.split('\n').every((line) => !line.trim() || line.trim().startsWith('--'));

export interface DeriveResult {
  schemaChanged: boolean;
  /** The PostgreSQL migration written or extended, if any. */
  migration?: string;
}

/**
 * Writes prisma/postgresql/schema.prisma from the SQLite schema and, when its tables change, the
 * PostgreSQL migration for it: the difference between the committed PostgreSQL schema (the
 * state its migrations reach) and the new one, under the name of the newest SQLite migration.
 * Several SQLite migrations added at once become one PostgreSQL migration; the two histories
 * need not match step by step, only end at the same models.
 */
export async function derivePostgres(root = projectRoot): Promise<DeriveResult> {
  const sqliteSchema = join(root, paths.sqliteSchema);
  const postgresSchema = join(root, paths.postgresSchema);
  const postgresMigrations = join(root, paths.postgresMigrations);
  const next = derivePostgresSchema(readFileSync(sqliteSchema, 'utf8'));
  const previous = existsSync(postgresSchema) ? readFileSync(postgresSchema, 'utf8') : null;
  const applied = migrationNames(postgresMigrations);

  const scratch = mkdtempSync(join(tmpdir(), 'memory-gateway-derive-'));
  let sql: string;
  try {
    const nextFile = join(scratch, 'next.prisma');
    writeFileSync(nextFile, next);
    let previousFile: string | null = null;
    // Without migrations the committed schema describes nothing yet: start from empty.
    if (previous !== null && applied.length > 0) {
      previousFile = join(scratch, 'previous.prisma');
      writeFileSync(previousFile, previous);
    }
    sql = await diffScript(previousFile, nextFile);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  mkdirSync(dirname(postgresSchema), { recursive: true });
  writeFileSync(postgresSchema, next);
  mkdirSync(postgresMigrations, { recursive: true });
  writeFileSync(
    join(postgresMigrations, 'migration_lock.toml'),
    '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
  );
  const result: DeriveResult = { schemaChanged: previous !== next };
  if (isEmptyScript(sql)) return result;

  const newest = migrationNames(join(root, paths.sqliteMigrations)).at(-1);
  if (!newest) throw new Error(`${paths.sqliteMigrations} has no migration: add the SQLite migration first`);
  const file = join(postgresMigrations, newest, 'migration.sql');
  mkdirSync(dirname(file), { recursive: true });
  // Re-running after another schema edit before the migration was committed extends it, as the
  // SQLite migration of the same name was regenerated too.
  writeFileSync(file, existsSync(file) ? `${readFileSync(file, 'utf8').trimEnd()}\n\n${sql}` : sql);
  return { ...result, migration: newest };
}
