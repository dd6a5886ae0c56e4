import type { z } from 'zod';
import { AppError, notFound } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { pathSegment, unexpectedStatus, type UpstreamClient, type UpstreamResponse } from '../http.js';
import type { CallOptions, Connection, JsonValue, MemoryDTO, MemoryStore } from '../types.js';
import { listPage, MieltoCreateResponse, MieltoDeleteResponse, MieltoMemory, MieltoMemoryList } from './schemas.js';

/**
 * Mielto memories (../shared/upstreams/README.md §4). Paths are relative to `<MIELTO_URL>/api/v1`
 * (providers.ts builds the base URL and the Bearer header).
 */

const CURSOR = 'mielto:memories';
const DELETED = 'Memory deleted';
/** Mielto's page size cap (§4.2: limit 1..100). */
const MAX_LIMIT = 100;
/** Upper bound on upstream calls for one page of the gateway (only a fallback scan needs more than one or two). */
const MAX_CALLS_PER_PAGE = 20;

/**
 * A position in the list. Mielto's own cursor is the id of the last memory of a page (§4.2: docs
 * examples show `cursor=mem_…`), and whether it still works once that memory is deleted is
 * unconfirmed. So the gateway's cursor keeps, besides Mielto's cursor `c`, the edge's memory
 * (`id`, created_at `t`) and how many items `s` of the page fetched from `c` come up to and
 * including it (0 when `c` already starts right after it):
 * - normally the next page is fetched from `c`, dropping the first `s` items once it is checked
 *   that the `s`-th is still that memory (a position, so Mielto's order of equal timestamps
 *   does not matter);
 * - if the page moved (items deleted before it), items are kept by keyset instead:
 *   (created_at, memory_id) strictly below the cursor's, the order the gateway asks for;
 * - if Mielto refuses `c` (400/404/422: the memory it names is gone), the list is read again
 *   from the start and filtered by the same keyset, at most MAX_CALLS_PER_PAGE pages deep.
 */
interface Position extends Record<string, unknown> {
  t: string | null;
  id: string;
  c: string | null;
  s: number;
}

const isPosition = (v: Record<string, unknown>): v is Position =>
  (v.t === null || (typeof v.t === 'string' && !Number.isNaN(Date.parse(v.t)))) &&
  typeof v.id === 'string' &&
  (v.c === null || typeof v.c === 'string') &&
  typeof v.s === 'number' &&
  Number.isInteger(v.s) &&
  v.s >= 0 &&
  v.s <= MAX_LIMIT;

/** FastAPI sends naive datetimes without an offset; Mielto stores UTC, so read them as UTC. */
function parseTime(value: string | null | undefined): Date | null {
  if (!value) return null;
  const withZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  const at = new Date(withZone);
  return Number.isNaN(at.getTime()) ? null : at;
}

function toDTO(m: MieltoMemory): MemoryDTO {
  return {
    id: m.memory_id,
    userId: m.user_id,
    memory: m.memory,
    topics: m.topics ?? [],
    metadata: (m.metadata ?? null) as JsonValue | null,
    createdAt: parseTime(m.created_at),
    updatedAt: parseTime(m.updated_at),
    backend: 'mielto',
  };
}

/** Strictly after `key` in (created_at desc, memory_id desc) order. */
function afterKey(m: MemoryDTO, key: Position): boolean {
  const t = m.createdAt?.getTime();
  const kt = key.t === null ? undefined : Date.parse(key.t);
  if (t !== undefined && kt !== undefined && t !== kt) return t < kt;
  return m.id < key.id;
}

/** The page does not need dropping by keyset: only the same memory, or anything newer, is dropped. */
function notBeforeKey(m: MemoryDTO, key: Position): boolean {
  if (m.id === key.id) return false;
  const t = m.createdAt?.getTime();
  return !(t !== undefined && key.t !== null && t > Date.parse(key.t));
}

function badPayload(response: UpstreamResponse): AppError {
  // Never echo the body: it may hold another user's memories.
  return new AppError('UPSTREAM_ERROR', 'mielto sent a response the gateway does not understand', {
    provider: 'mielto',
    upstreamStatus: response.status,
  });
}

function parse<T extends z.ZodType>(schema: T, response: UpstreamResponse): z.output<T> {
  const result = schema.safeParse(response.body);
  if (!result.success) throw badPayload(response);
  return result.data;
}

/**
 * `clientFor(workspaceId)` returns the client for one of the tenant's workspaces (the default
 * one for null), refusing a workspace the tenant may not name (FORBIDDEN). The client carries
 * the credential and the `X-Workspace-Id` header (§4.1: optional, "derived from API key"; sent
 * only when one is known).
 */
export function mieltoMemoryStore(clientFor: (workspaceId: string | null | undefined) => UpstreamClient): MemoryStore {
  const fetchPage = (client: UpstreamClient, query: { userId?: string | null; cursor: string | null; limit: number }, call?: CallOptions) =>
    client.request({
      method: 'GET',
      path: '/memories',
      query: {
        user_id: query.userId ?? undefined,
        cursor: query.cursor ?? undefined,
        limit: query.limit,
        // The contract lists newest first by creation; Mielto's default is updated_at (§4.2).
        sort_by: 'created_at',
        sort_order: 'desc',
      },
      signal: call?.signal,
    });

  return {
    backend: 'mielto',

    async list({ first, after, userId, workspaceId }, call): Promise<Connection<MemoryDTO>> {
      const key = after ? decodeCursor(CURSOR, after, isPosition) : undefined;
      const client = clientFor(workspaceId);
      const rows: { node: MemoryDTO; c: string | null; s: number }[] = [];
      let cursor = key?.c ?? null;
      // How the first response is trimmed: by position, by keyset, or only defensively.
      let mode: 'none' | 'position' | 'keyset' | 'defensive' = !key ? 'none' : key.s > 0 ? 'position' : 'defensive';
      let hasNextPage = false;

      for (let calls = 1; ; calls++) {
        // A keyset scan reads whole pages: most of what comes before the position is dropped.
        const limit = mode === 'keyset' ? MAX_LIMIT : Math.min(MAX_LIMIT, first - rows.length + (mode === 'position' ? key!.s : 0));
        const response = await fetchPage(client, { userId, cursor, limit }, call);
        if (key && cursor === key.c && cursor !== null && [400, 404, 422].includes(response.status)) {
          // Mielto no longer knows the cursor (see Position): read again from the start by keyset.
          cursor = null;
          mode = 'keyset';
          continue;
        }
        if (response.status !== 200) throw unexpectedStatus('mielto', response);
        const page = listPage(parse(MieltoMemoryList, response));
        const nodes = page.items.map(toDTO);
        // A next_cursor equal to the one sent would read the same page forever: treat it as the end.
        const more = page.hasMore && page.nextCursor !== null && page.nextCursor !== cursor;

        let keep: (node: MemoryDTO, index: number) => boolean = () => true;
        if (mode === 'position') {
          keep = nodes[key!.s - 1]?.id === key!.id ? (_n, i) => i >= key!.s : (n) => afterKey(n, key!);
        } else if (mode === 'defensive') {
          keep = (n) => notBeforeKey(n, key!);
        } else if (mode === 'keyset') {
          keep = (n) => afterKey(n, key!);
        }
        nodes.forEach((node, i) => {
          if (!keep(node, i)) return;
          // The last item of a page resumes from Mielto's next_cursor; others from this page's cursor.
          const last = i === nodes.length - 1 && more;
          rows.push({ node, c: last ? page.nextCursor : cursor, s: last ? 0 : i + 1 });
        });

        if (rows.length > first || (rows.length === first && more)) {
          hasNextPage = true;
          break;
        }
        if (!more || rows.length === first) break;
        if (calls >= MAX_CALLS_PER_PAGE) {
          if (rows.length === 0) {
            throw new AppError('UPSTREAM_ERROR', 'mielto could not resume this list from the cursor; start again from the first page', {
              provider: 'mielto',
            });
          }
          // A short page is still a valid page: its endCursor continues from here.
          hasNextPage = true;
          break;
        }
        cursor = page.nextCursor;
        if (mode !== 'keyset') mode = 'none';
      }

      const edges = rows.slice(0, first).map(({ node, c, s }) => ({
        cursor: encodeCursor(CURSOR, { t: node.createdAt?.toISOString() ?? null, id: node.id, c, s }),
        node,
      }));
      return {
        edges,
        pageInfo: { hasNextPage, hasPreviousPage: false, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },

    async create(input, { workspaceId }, call) {
      // Not idempotent: http.ts repeats a POST only when it surely did not arrive (429, refused).
      const response = await clientFor(workspaceId).request({
        method: 'POST',
        path: '/memories',
        body: { user_id: input.userId, memory: input.memory, topics: input.topics, metadata: input.metadata },
        idempotent: false,
        signal: call?.signal,
      });
      if (response.status !== 200 && response.status !== 201) throw unexpectedStatus('mielto', response);
      return toDTO(parse(MieltoCreateResponse, response));
    },

    async delete(memoryId, { userId, workspaceId }, call) {
      const client = clientFor(workspaceId);
      const path = `/memories/${pathSegment(memoryId, 'Memory')}`;
      if (userId != null) {
        // Mielto says only the owner can delete (§4.4) but leaves the check to whoever sends
        // `user_id`; the gateway proves it itself by reading the memory first (§4.6).
        const found = await client.request({ method: 'GET', path, route: '/memories/{memoryId}', query: { user_id: userId }, signal: call?.signal });
        if (found.status === 404 || found.status === 403) throw notFound(`Memory ${memoryId}`);
        if (found.status !== 200) throw unexpectedStatus('mielto', found);
        if (parse(MieltoMemory, found).user_id !== userId) throw notFound(`Memory ${memoryId}`);
      }
      const response = await client.request({
        method: 'DELETE',
        path,
        route: '/memories/{memoryId}',
        query: { user_id: userId ?? undefined },
        signal: call?.signal,
      });
      // §4.4: the docs answer 200 {memory_id, message}; the SDK expects 204 without a body.
      if (response.status >= 200 && response.status < 300) {
        // The memory is gone whatever the body says; an odd body must not turn that into an error.
        const body = MieltoDeleteResponse.safeParse(response.body);
        return { message: (body.success && body.data.message) || DELETED };
      }
      if (response.status === 404) {
        // Deletes are idempotent by id: when an earlier attempt of this same call may have been
        // applied before it failed (connection dropped after sending, 502/503/504, timeout), a
        // 404 now most likely means that attempt deleted it, so the delete is reported as done.
        if (response.mayHaveApplied) return { message: DELETED };
        throw notFound(`Memory ${memoryId}`);
      }
      // "Only the memory owner can delete" (§4.4); with a user_id sent, a refusal means the memory
      // is not that user's, which callers see as not found (the real status is unconfirmed).
      if (response.status === 403 && userId) throw notFound(`Memory ${memoryId}`);
      throw unexpectedStatus('mielto', response);
    },
  };
}
