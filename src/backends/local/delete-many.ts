import { Prisma } from '../../generated/prisma/client.js';

/** The per-user tables and the columns a delete may be narrowed by. */
export type LocalTable = 'UserEvent' | 'UserMemory' | 'Memory';
export type LocalDeleteFilter = Partial<Record<'userId' | 'subTenantId' | 'workspaceId', string>>;

/**
 * Deletes the tenant's rows with these ids (and the filter's column values) in one statement and
 * returns the ids it deleted. `DELETE … RETURNING` reads the same on SQLite (3.35+) and
 * PostgreSQL, and tells exactly which rows this statement removed, even when another request
 * deletes some of them at the same moment.
 */
export async function deleteManyReturning(
  db: Pick<Prisma.TransactionClient, '$queryRaw'>,
  table: LocalTable,
  tenantId: string,
  ids: readonly string[],
  filter: LocalDeleteFilter = {},
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  // Table and column names come from the closed unions above, never from input.
  const conditions = Object.entries(filter)
    .filter(([, value]) => value !== undefined)
    .map(([column, value]) => Prisma.sql`AND ${Prisma.raw(`"${column}"`)} = ${value}`);
  const rows = await db.$queryRaw<{ id: string }[]>`
    DELETE FROM ${Prisma.raw(`"${table}"`)}
    WHERE "tenantId" = ${tenantId} AND "id" IN (${Prisma.join(ids)}) ${conditions.length > 0 ? Prisma.join(conditions, ' ') : Prisma.empty}
    RETURNING "id"`;
  return new Set(rows.map((row) => row.id));
}
