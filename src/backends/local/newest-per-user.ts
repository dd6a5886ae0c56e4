import { readRows } from '../../direct-reads.js';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { toConnection, type TimeKey } from '../cursor.js';
import type { Connection } from '../types.js';

/** The per-user tables, all keyed (tenantId, userId, createdAt, id) by an index. */
type PerUserTable = 'UserEvent' | 'UserMemory' | 'Memory';

/**
 * The newest `take` rows of each user in one statement, whatever the number of users: a window
 * function ranks each user's rows and keeps the first `take`. ROW_NUMBER() OVER (PARTITION BY)
 * and double-quoted identifiers read the same on SQLite and PostgreSQL. The keyset condition
 * mirrors `afterTimeKey`, so a cursor of a one-user page continues here too.
 */
export function newestPerUser<Row>(
  prisma: PrismaClient,
  table: PerUserTable,
  scope: { tenantId: string; userIds: readonly string[]; take: number; after?: TimeKey },
): Promise<Row[]> {
  const { tenantId, userIds, take, after } = scope;
  // `IN ()` is not SQL; nobody to read for means nothing to read.
  if (userIds.length === 0) return Promise.resolve([]);
  // The table name comes from the closed union above, never from input.
  const from = Prisma.raw(`"${table}"`);
  const keyset = after
    ? Prisma.sql`AND "createdAt" <= ${new Date(after.t)} AND ("createdAt" < ${new Date(after.t)} OR ("createdAt" = ${new Date(after.t)} AND "id" < ${after.id}))`
    : Prisma.empty;
  return readRows<Row>(
    prisma,
    Prisma.sql`
    SELECT * FROM (
      SELECT t.*, ROW_NUMBER() OVER (PARTITION BY "userId" ORDER BY "createdAt" DESC, "id" DESC) AS "position"
      FROM ${from} t
      WHERE "tenantId" = ${tenantId} AND "userId" IN (${Prisma.join(userIds)}) ${keyset}
    ) ranked
    WHERE "position" <= ${take}
    ORDER BY "userId", "position"`,
  );
}

/**
 * One page of a tenant's rows (or of one user's, or one workspace's), newest first: what a
 * `findMany` with `afterTimeKey` asks, as one raw statement. A list is the hottest query there
 * is, and a raw one skips the query compiler that a `findMany` runs on every call (about half
 * a millisecond of CPU each, bench/README.md row 1), sent to the driver adapter directly
 * (src/direct-reads.ts). Rows come back as `findMany` returns them.
 */
export function newestRows<Row>(
  prisma: PrismaClient,
  table: PerUserTable,
  scope: { tenantId: string; equal: Record<string, string | null | undefined>; take: number; after?: TimeKey },
): Promise<Row[]> {
  const { tenantId, equal, take, after } = scope;
  const from = Prisma.raw(`"${table}"`);
  // Column names come from the callers' literals, never from input; null or undefined means no condition.
  const conditions = Object.entries(equal)
    .filter((entry): entry is [string, string] => entry[1] != null)
    .map(([column, value]) => Prisma.sql`AND ${Prisma.raw(`"${column}"`)} = ${value}`);
  const keyset = after
    ? Prisma.sql`AND "createdAt" <= ${new Date(after.t)} AND ("createdAt" < ${new Date(after.t)} OR ("createdAt" = ${new Date(after.t)} AND "id" < ${after.id}))`
    : Prisma.empty;
  return readRows<Row>(
    prisma,
    Prisma.sql`
    SELECT * FROM ${from}
    WHERE "tenantId" = ${tenantId} ${conditions.length ? Prisma.join(conditions, ' ') : Prisma.empty} ${keyset}
    ORDER BY "createdAt" DESC, "id" DESC
    LIMIT ${take}`,
  );
}

/** Splits rows of many users into one connection per user, in the order of `userIds`. */
export function pagesPerUser<T>(
  userIds: readonly string[],
  rows: T[],
  userIdOf: (row: T) => string,
  first: number,
  cursorOf: (row: T) => string,
): Connection<T>[] {
  const byUser = new Map<string, T[]>();
  for (const row of rows) {
    const userId = userIdOf(row);
    const list = byUser.get(userId);
    if (list) list.push(row);
    else byUser.set(userId, [row]);
  }
  return userIds.map((userId) => toConnection(byUser.get(userId) ?? [], first, cursorOf));
}
