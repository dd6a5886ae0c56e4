import { z } from 'zod';
import { badInput } from '../errors.js';

/**
 * Argument validation shared by every backend, so a client cannot tell from validation which
 * backend is behind a family. Every failure is BAD_USER_INPUT with the offending `field`.
 */

export const LIMITS = {
  /** ids, user ids, agent ids, tags, topics */
  shortText: 256,
  /** memory content, event tips, prompts */
  longText: 32 * 1024,
  /** tags, topics, context lines, profile deltas per item */
  listItems: 100,
  /** serialized metadata */
  metadataBytes: 16 * 1024,
  pageMax: 100,
} as const;

// Memobase accepts UUID v4 or v5 ids only; the contract applies that to every backend.
const UUID_V4_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function uuidV4OrV5(field: string, value: string): string {
  if (!UUID_V4_V5.test(value)) throw badInput(field, `${field} must be a UUID version 4 or 5`);
  return value.toLowerCase();
}

export function pageSize(first: number | null | undefined, fallback: number): number {
  const value = first ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > LIMITS.pageMax) {
    throw badInput('first', `first must be between 1 and ${LIMITS.pageMax}`);
  }
  return value;
}

export function cursorArg(after: string | null | undefined): string | null {
  if (after == null) return null;
  if (after.length === 0 || after.length > 1024) throw badInput('after', 'after is not a cursor of this list');
  return after;
}

// PostgreSQL text cannot hold U+0000 (SQLite can): refused on every backend alike, rather than
// stored by one store and a server error on the other.
const NO_NUL = [(v: string) => !v.includes('\u0000'), 'must not contain the NUL character (U+0000)'] as const;

export const shortText = z.string().trim().min(1, 'must not be empty').max(LIMITS.shortText, `must be at most ${LIMITS.shortText} characters`).refine(...NO_NUL);
/**
 * Ids and scope names end up in upstream paths, query strings and headers: control characters
 * have no place there (a CR/LF in a header value is refused by the HTTP client, and must never
 * reach it).
 */
export const idText = shortText.regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');
export const longText = z.string().min(1, 'must not be empty').max(LIMITS.longText, `must be at most ${LIMITS.longText} characters`).refine(...NO_NUL);
export const optionalLongText = z.string().max(LIMITS.longText, `must be at most ${LIMITS.longText} characters`).refine(...NO_NUL).nullish();
export const shortList = <T extends z.ZodType>(item: T) =>
  z.array(item).max(LIMITS.listItems, `must have at most ${LIMITS.listItems} items`);

/** Parses `value` with `schema`; the first problem becomes BAD_USER_INPUT naming its path. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, field: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = [field, ...issue.path.map(String)].join('.');
  throw badInput(path, `${path} ${issue.message}`);
}

/** A single optional id-like string argument (user ids, workspace ids, sub-tenant ids). */
export function optionalId(field: string, value: string | null | undefined): string | null {
  if (value == null) return null;
  return parseInput(idText, value, field);
}

export function requiredId(field: string, value: string): string {
  return parseInput(idText, value, field);
}
