import { ColumnTypeEnum, type ArgType, type SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import type { Prisma, PrismaClient } from './generated/prisma/client.js';

/**
 * The hottest reads (every request's key lookup, every page of a local list) go straight to the
 * driver adapter Prisma runs on, past the client's query pipeline. For a raw statement that
 * pipeline only wraps the adapter call, yet it costs about 0.3 ms of CPU per statement (a query
 * plan from the query compiler, its interpretation, tracing hooks): more than SQLite takes to
 * answer. The adapter is the same one, with the same connection (and compiled statements), type
 * mapping and error translation, so a row reads exactly as `$queryRaw` returns it, and an
 * unreachable store fails the same way.
 *
 * Writes and everything else keep going through the client.
 */

/** The adapter a client connected with, and who wants to see its statements. */
export interface DirectReadSource {
  provider: 'sqlite' | 'postgres';
  /** The adapter of the client's current connection; undefined before it connects. */
  adapter(): SqlDriverAdapter | undefined;
  onQuery?: (sql: string, params: string) => void;
}

const sources = new WeakMap<PrismaClient, DirectReadSource>();

/** An adapter factory that remembers the adapter of its current connection (db.ts's two). */
export interface ConnectionTracking {
  readonly connected: SqlDriverAdapter | undefined;
}

/** Hands `adapter` to `remember`, and `undefined` once the client disposes of it. */
export function tracked<Adapter extends SqlDriverAdapter>(adapter: Adapter, remember: (adapter: Adapter | undefined) => void): Adapter {
  remember(adapter);
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    remember(undefined);
    await dispose();
  };
  return adapter;
}

/** Lets `readRows` reach `prisma`'s adapter directly (db.ts does it for every client it builds). */
export function enableDirectReads(prisma: PrismaClient, source: DirectReadSource): void {
  sources.set(prisma, source);
}

/** The database `prisma` was built for by db.ts (undefined for another client). */
export const directProvider = (prisma: PrismaClient): DirectReadSource['provider'] | undefined => sources.get(prisma)?.provider;

/**
 * The adapter `prisma` is connected through (connecting it first when it has not yet sent a
 * statement), and the hook that sees its statements; undefined for a client db.ts did not build.
 */
export async function adapterOf(prisma: PrismaClient): Promise<{ adapter: SqlDriverAdapter; onQuery?: DirectReadSource['onQuery'] } | undefined> {
  const source = sources.get(prisma);
  if (!source) return undefined;
  if (!source.adapter()) await prisma.$connect();
  const adapter = source.adapter();
  return adapter && { adapter, onQuery: source.onQuery };
}

/** What the adapter expects for each value of a `Prisma.sql` statement, converted like the client converts it. */
export function argumentOf(value: unknown): { arg: unknown; type: ArgType } {
  if (value instanceof Date) return { arg: value.toISOString(), type: { scalarType: 'datetime', arity: 'scalar' } };
  if (typeof value === 'number') return { arg: value, type: { scalarType: Number.isInteger(value) ? 'int' : 'float', arity: 'scalar' } };
  if (typeof value === 'string') return { arg: value, type: { scalarType: 'string', arity: 'scalar' } };
  if (Array.isArray(value)) return { arg: value, type: { scalarType: 'string', arity: 'list' } };
  return { arg: value ?? null, type: { scalarType: 'unknown', arity: 'scalar' } };
}

/** A column's value as `$queryRaw` gives it (dates as Date, JSON parsed, 64-bit integers as BigInt). */
function valueOf(type: number, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case ColumnTypeEnum.DateTime:
    case ColumnTypeEnum.Date:
      return new Date(value as string);
    case ColumnTypeEnum.Json:
      return typeof value === 'string' ? JSON.parse(value) : value;
    case ColumnTypeEnum.Int64:
      return BigInt(value as string | number);
    case ColumnTypeEnum.Boolean:
      return typeof value === 'number' ? value !== 0 : value;
    case ColumnTypeEnum.Bytes:
      return Uint8Array.from(value as number[]);
    default:
      return value;
  }
}

/**
 * The rows of a read-only `Prisma.sql` statement, as `prisma.$queryRaw(query)` returns them. Falls
 * back to `$queryRaw` itself for a client that has not connected yet (its first statement
 * connects it) or that was not built by db.ts.
 */
export async function readRows<Row>(prisma: PrismaClient, query: Prisma.Sql): Promise<Row[]> {
  const source = sources.get(prisma);
  const adapter = source?.adapter();
  if (!adapter) return prisma.$queryRaw<Row[]>(query);
  const args: unknown[] = [];
  const argTypes: ArgType[] = [];
  for (const value of query.values) {
    const { arg, type } = argumentOf(value);
    args.push(arg);
    argTypes.push(type);
  }
  // `sql` has `?` placeholders (SQLite's), `text` `$1`… (PostgreSQL's).
  const sql = adapter.provider === 'postgres' ? query.text : query.sql;
  source!.onQuery?.(sql, JSON.stringify(args));
  const result = await adapter.queryRaw({ sql, args, argTypes });
  const { columnNames, columnTypes } = result;
  return result.rows.map((values) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < columnNames.length; i++) row[columnNames[i]!] = valueOf(columnTypes[i]!, values[i]);
    return row as Row;
  });
}
