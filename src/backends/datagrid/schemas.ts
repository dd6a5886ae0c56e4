import { z } from 'zod';

/**
 * Datagrid user-memory payloads (../shared/upstreams/README.md §2.2-§2.4; datagrid-ai 0.17.2
 * `src/resources/memory/user.ts`). Every field of `UserMemory` is documented as required; the
 * schema still tolerates what a lenient reader should: `memory` and `context` as one string
 * (create takes strings, §2.4) or null, `user_prompt` / `agent_id` / `user_id` null or absent,
 * `has_more` absent (it is optional, §2.2), and unknown extra fields (`credits`, `object`).
 */

/** A list of lines, as read (§2.2: arrays), also accepting one string or nothing. */
const Lines = z
  .union([z.array(z.string()), z.string(), z.null()])
  .optional()
  .transform((value) => (value == null ? [] : typeof value === 'string' ? [value] : value));

const OptionalText = z
  .string()
  .nullish()
  .transform((value) => value ?? null);

export const DatagridUserMemory = z.object({
  id: z.string().min(1),
  // Plain strings in both the SDK and the docs (no date-time format, §2.2); parsed at the edge.
  created_at: z.string(),
  updated_at: z.string().nullish(),
  memory: Lines,
  context: Lines,
  user_prompt: OptionalText,
  agent_id: OptionalText,
  user_id: OptionalText,
});

export type DatagridUserMemory = z.output<typeof DatagridUserMemory>;

/** `{object: "list", data, has_more?}` (§2.2). */
export const DatagridUserMemoryList = z.object({
  data: z.array(DatagridUserMemory),
  has_more: z.boolean().nullish(),
});
