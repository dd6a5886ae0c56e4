import { z } from 'zod';

/**
 * Mielto's payloads, after ../shared/upstreams/README.md §4 (docs.mielto.com OpenAPI and the
 * mielto-sdk types). Unknown fields are ignored; documented variants are accepted.
 */

/** `MemoryResponse` (§4.3): only id, owner and text are required; the rest is nullable. */
export const MieltoMemory = z.object({
  memory_id: z.string().min(1),
  user_id: z.string(),
  memory: z.string(),
  topics: z.array(z.string()).nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});
export type MieltoMemory = z.infer<typeof MieltoMemory>;

/**
 * `MemoryListResponse` (§4.2). The docs put the items under `memories`, the TS SDK reads `data`;
 * which one the live API sends is unconfirmed, so either is accepted.
 */
export const MieltoMemoryList = z
  .object({
    memories: z.array(MieltoMemory).optional(),
    data: z.array(MieltoMemory).optional(),
    next_cursor: z.string().nullish(),
    has_more: z.boolean().nullish(),
  })
  .refine((v) => v.memories !== undefined || v.data !== undefined, { message: 'neither memories nor data' });

/**
 * A validated list response in one shape. Plain code rather than a zod `.transform`, which cost
 * more than validating the page's twenty items (about 15 µs per page on this machine).
 */
export function listPage(v: z.output<typeof MieltoMemoryList>): { items: MieltoMemory[]; nextCursor: string | null; hasMore: boolean } {
  return { items: (v.memories ?? v.data)!, nextCursor: v.next_cursor ?? null, hasMore: v.has_more ?? false };
}

/**
 * `MemoryCreateResponse` (§4.5): the SDK returns its `memory`. A flat `MemoryResponse` (the shape
 * of get-one, §4.6) is accepted too.
 */
export const MieltoCreateResponse = z.union([
  z.object({ memory: MieltoMemory }).transform((v) => v.memory),
  MieltoMemory,
]);

/** `MemoryDeleteResponse` (§4.4); the message is what the gateway returns to the caller. */
export const MieltoDeleteResponse = z.object({ memory_id: z.string().optional(), message: z.string().optional() });
