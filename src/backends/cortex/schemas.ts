import { z } from 'zod';

/**
 * Cortex payloads, tolerant of the variants the public material shows
 * (../shared/upstreams/README.md §3). Unknown keys are ignored: the provider adds fields freely.
 */

/**
 * One listed memory. The docs' response example and the vendor's 2026 clients say
 * `memory_id`/`memory_content`; the docs' field table and older pages say `source_id`/`source_content`
 * (§3.3). Either is accepted; the `memory_*` pair wins when both are present.
 */
export const CortexMemoryItem = z
  .object({
    memory_id: z.string().min(1).optional(),
    source_id: z.string().min(1).optional(),
    memory_content: z.string().optional(),
    source_content: z.string().optional(),
  })
  .transform((item, ctx) => {
    const id = item.memory_id ?? item.source_id;
    const content = item.memory_content ?? item.source_content;
    if (id === undefined || content === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a memory needs memory_id|source_id and memory_content|source_content' });
      return z.NEVER;
    }
    return { id, content };
  });

export type CortexMemory = z.output<typeof CortexMemoryItem>;

/**
 * The list: `{success, user_memories}` for both path generations (§3.3); the oldest captured
 * variant is a bare array. `success: false` in a 200 is a refusal, not an empty list.
 */
export const CortexListResponse = z.union([
  z.object({ success: z.boolean().optional(), user_memories: z.array(CortexMemoryItem) }),
  z.array(CortexMemoryItem).transform((user_memories) => ({ success: true as boolean | undefined, user_memories })),
]);

/** Delete: `{success, user_memory_deleted}` in both generations (§3.2); the oldest variant is a bare boolean. */
export const CortexDeleteResponse = z.union([
  z.object({ success: z.boolean().optional(), user_memory_deleted: z.boolean() }),
  z.boolean().transform((deleted) => ({ success: true as boolean | undefined, user_memory_deleted: deleted })),
]);

/** The documented error envelope `{detail: {success: false, message, error_code}}` (§3.5). */
export const CortexErrorEnvelope = z.object({
  detail: z.object({ success: z.literal(false).optional(), message: z.string().optional(), error_code: z.string() }),
});

/** True for the provider's own "not found" (tenant, sub-tenant or memory; §3.5), not a router 404. */
export function isCortexNotFound(status: number, body: unknown): boolean {
  if (status !== 404) return false;
  const parsed = CortexErrorEnvelope.safeParse(body);
  return parsed.success && parsed.data.detail.error_code === 'NOT_FOUND';
}
