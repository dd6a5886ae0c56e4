import type Database from 'better-sqlite3';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import { tracked, type ConnectionTracking } from './direct-reads.js';

/** Distinct SQL texts kept compiled per connection; the least recently used goes first. */
const MAX_STATEMENTS = 256;

/**
 * `db.prepare`, compiled once per SQL text: SQLite compiles a statement on every `prepare`, and
 * the hot paths send the same few texts with new values each time. Statements run synchronously,
 * so one compiled statement is never in use twice at once.
 */
export function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const statements = new Map<string, Database.Statement>();
  const compile = db.prepare.bind(db);
  return (sql) => {
    let statement = statements.get(sql);
    if (statement) {
      statements.delete(sql);
    } else {
      statement = compile(sql);
      if (statements.size >= MAX_STATEMENTS) statements.delete(statements.keys().next().value!);
    }
    statements.set(sql, statement);
    return statement;
  };
}

/**
 * `statement.columns()`, read once per statement: better-sqlite3 builds the descriptions afresh on
 * every call, and Prisma's adapter asks for them with every read. They change only with the
 * schema, so all of them are read again once `PRAGMA schema_version` moves (a migration).
 */
function columnCache(db: Database.Database): (statement: Database.Statement) => Database.ColumnDefinition[] {
  const version = db.prepare('PRAGMA schema_version').pluck();
  let known = version.get();
  let columns = new WeakMap<Database.Statement, Database.ColumnDefinition[]>();
  return (statement) => {
    const current = version.get();
    if (current !== known) {
      known = current;
      columns = new WeakMap();
    }
    let found = columns.get(statement);
    if (!found) columns.set(statement, (found = statement.columns()));
    return found;
  };
}

/**
 * The part of a statement Prisma's SQLite adapter uses (6.19: `prepare(sql).bind(args)`, then
 * `reader`, `run()`, `columns()` and `raw().all()`; `prepare('BEGIN').run()`).
 */
interface BoundStatement {
  readonly reader: boolean;
  run(): Database.RunResult;
  columns(): Database.ColumnDefinition[];
  raw(): { all(): unknown[] };
}

/**
 * Prisma's SQLite adapter, reusing compiled statements: the adapter prepares every statement
 * afresh and binds its values to it for good (`bind` works once per statement), so its
 * connection's `prepare` is given statements from a cache with the values passed on each run.
 */
export class ReusingPrismaBetterSQLite3 extends PrismaBetterSQLite3 implements ConnectionTracking {
  connected: SqlDriverAdapter | undefined;

  override async connect() {
    const adapter = tracked(await super.connect(), (current) => (this.connected = current));
    const db = (adapter as unknown as { client: Database.Database }).client;
    const prepare = statementCache(db);
    const columnsOf = columnCache(db);
    (db as unknown as { prepare: (sql: string) => { run(): Database.RunResult; bind(args: unknown[]): BoundStatement } }).prepare = (sql) => {
      const statement = prepare(sql);
      return {
        run: () => statement.run(),
        bind: (args) => ({
          reader: statement.reader,
          run: () => statement.run(args),
          columns: () => columnsOf(statement),
          raw: () => ({ all: () => statement.raw(true).all(args) }),
        }),
      };
    };
    return adapter;
  }
}
