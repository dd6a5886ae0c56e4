import { badInput } from '../errors.js';
import type { Connection } from './types.js';

/**
 * Opaque cursors: base64url JSON tagged with the list they belong to, so a cursor from one list
 * (or one backend) handed to another is a clear BAD_USER_INPUT instead of a wrong page.
 */
export function encodeCursor(kind: string, payload: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ k: kind, ...payload })).toString('base64url');
}

export function decodeCursor<T extends Record<string, unknown>>(
  kind: string,
  cursor: string,
  isValid: (value: Record<string, unknown>) => value is T,
): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!value || typeof value !== 'object' || (value as { k?: unknown }).k !== kind || !isValid(value as Record<string, unknown>)) {
    throw badInput('after', 'after is not a cursor of this list: pass pageInfo.endCursor from a previous page');
  }
  return value as T;
}

/** Builds a connection from a page fetched with one extra row to learn whether more follow. */
export function toConnection<T>(rows: T[], first: number, cursorOf: (row: T) => string, hasMore?: boolean): Connection<T> {
  const more = hasMore ?? rows.length > first;
  const page = rows.slice(0, first);
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: more,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/** Keyset position for newest-first lists ordered by (createdAt desc, id desc). */
export interface TimeKey extends Record<string, unknown> {
  t: string;
  id: string;
}

// Exactly what Date#toISOString writes for years 0000-9999: a forged cursor with a date the
// database cannot represent (e.g. +275760-09-13) must be BAD_USER_INPUT, not a query failure.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const isTimeKey = (v: Record<string, unknown>): v is TimeKey =>
  typeof v.t === 'string' &&
  ISO_INSTANT.test(v.t) &&
  !Number.isNaN(Date.parse(v.t)) &&
  new Date(v.t).toISOString() === v.t &&
  typeof v.id === 'string' &&
  // A forged id PostgreSQL cannot compare (text holds no U+0000) is a bad cursor, as on SQLite.
  !v.id.includes('\u0000');

/**
 * Prisma `where` for rows strictly after a keyset position. It does not need the cursor's row
 * to exist, so cursors stay valid when that row is deleted. The `lte` bound is implied by the OR
 * but is what lets the database bound the index range: without it PostgreSQL reads every older
 * row of the user (or of the tenant) and sorts them, instead of the next page's rows in index
 * order (test/db/list-plans.test.ts).
 */
export function afterTimeKey(key: TimeKey | undefined, timeField = 'createdAt') {
  if (!key) return {};
  const at = new Date(key.t);
  return { [timeField]: { lte: at }, OR: [{ [timeField]: { lt: at } }, { [timeField]: at, id: { lt: key.id } }] };
}
