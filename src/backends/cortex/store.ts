import { createHash } from 'node:crypto';
import { AppError, badInput, notFound, notSupported } from '../../errors.js';
import { decodeCursor, encodeCursor, toConnection } from '../cursor.js';
import { unexpectedStatus, type UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '../http.js';
import type { CallOptions, Connection, UserMemoryDTO, UserMemoryFilter, UserMemoryStore } from '../types.js';
import { CortexDeleteResponse, CortexListResponse, isCortexNotFound, type CortexMemory } from './schemas.js';

/**
 * Cortex (usecortex.ai) user memories, after ../shared/upstreams/README.md §3.
 *
 * Paths. Two generations are in use (§3.2, §3.3) and which one the live API serves is not
 * confirmed, so the tenant picks one (`cortex.paths` / CORTEX_API_PATHS):
 *   user_memory: GET /user_memory/list_user_memories?tenant_id=&sub_tenant_id=
 *                DELETE /user_memory/delete_user_memory?tenant_id=&memory_id=&sub_tenant_id=
 *   memories:    POST /list/data {tenant_id, sub_tenant_id?, kind: "memories"}
 *                DELETE /memories/delete_memory?tenant_id=&memory_id=&sub_tenant_id=
 *
 * Users and agents. Cortex items are `{id, content}` only: no user, no agent, no timestamps.
 * Cortex scopes data by sub-tenant (§3.1), and sub-tenants are commonly one per end user, so:
 *   - `subTenantId` names the sub-tenant to read or delete in; none means the tenant's default
 *     sub-tenant, as Cortex itself defines it;
 *   - a `userId` filter reads the sub-tenant named after that user (both given and different:
 *     nothing can match both, so the list is empty); items read that way carry that `userId`;
 *   - an `agentId` filter matches nothing: Cortex records no agent;
 *   - an end-user token deletes only inside the sub-tenant named after its own user.
 *
 * Order and pages. The list is unpaginated (§3.3): each page reads the whole list once (one
 * upstream call per page and sub-tenant within a request) and slices it in upstream order.
 * Items have no timestamps, so `createdAt`/`updatedAt` are null.
 *
 * Create. The add contract disagrees across doc versions (§3.4), so adding answers NOT_SUPPORTED
 * without calling Cortex.
 */

export interface CortexStoreOptions {
  tenantId: string;
  paths: 'user_memory' | 'memories';
}

const PROVIDER = 'cortex';
const CURSOR = 'cortex:userMemories';

/**
 * A position in an unpaginated list that must survive deletions: the item the page ended on, the
 * item after it, and its index as a last resort. Ids and the sub-tenant are kept as short hashes
 * so a cursor stays within the gateway's cursor size limit whatever the upstream ids look like.
 */
interface PositionKey extends Record<string, unknown> {
  /** Hash of the sub-tenant the list was read from: a cursor of another list is refused. */
  s: string;
  /** Hash of the id of the page's last item. */
  l: string;
  /** Hash of the id of the item after it; null when the page ended the list. */
  n: string | null;
  /** Index of the page's last item when the page was read. */
  i: number;
}

const isPositionKey = (v: Record<string, unknown>): v is PositionKey =>
  typeof v.s === 'string' &&
  typeof v.l === 'string' &&
  (v.n === null || typeof v.n === 'string') &&
  typeof v.i === 'number' &&
  Number.isInteger(v.i) &&
  v.i >= 0;

const shortHash = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 16);

/** The sub-tenant a list reads, and the user its items are attributed to; null when nothing can match. */
function listScope({ userId, agentId, subTenantId }: UserMemoryFilter): { subTenant: string | null; userId: string | null } | null {
  if (agentId != null) return null;
  if (userId != null) {
    if (subTenantId != null && subTenantId !== userId) return null;
    return { subTenant: userId, userId };
  }
  return { subTenant: subTenantId ?? null, userId: null };
}

/** Where a page starts in the current list, given the position its cursor recorded. */
function startAfter(items: CortexMemory[], key: PositionKey): number {
  const hashes = items.map((item) => shortHash(item.id));
  const last = hashes.indexOf(key.l);
  if (last >= 0) return last + 1;
  // The page's last item is gone (deleted since): continue at the item that followed it.
  if (key.n === null) return items.length;
  const next = hashes.indexOf(key.n);
  if (next >= 0) return next;
  // Both are gone: the following items moved up by (at least) the one removed.
  return Math.min(key.i, items.length);
}

const emptyConnection = (): Connection<UserMemoryDTO> => toConnection([], 1, () => '');

function upstreamError(message: string, response: UpstreamResponse): AppError {
  return new AppError('UPSTREAM_ERROR', `${PROVIDER} ${message}`, { provider: PROVIDER, upstreamStatus: response.status });
}

export function cortexUserMemoryStore(client: UpstreamClient, options: CortexStoreOptions): UserMemoryStore {
  const { tenantId, paths } = options;

  // The whole list of one sub-tenant, read at most once per store. A store lives for one request
  // (route.ts), so this only spares repeated reads of the same list within a request; the GET
  // generation is de-duplicated by the client already, the POST one is not.
  const lists = new Map<string, Promise<CortexMemory[]>>();

  async function fetchList(subTenant: string | null, call: CallOptions): Promise<CortexMemory[]> {
    const request: UpstreamRequest =
      paths === 'user_memory'
        ? {
            method: 'GET',
            path: '/user_memory/list_user_memories',
            query: { tenant_id: tenantId, sub_tenant_id: subTenant ?? undefined },
            signal: call.signal,
          }
        : {
            method: 'POST',
            path: '/list/data',
            body: { tenant_id: tenantId, sub_tenant_id: subTenant ?? undefined, kind: 'memories' },
            // A read, although it is a POST: repeating it is harmless.
            idempotent: true,
            signal: call.signal,
          };
    const response = await client.request(request);
    // 404 NOT_FOUND is Cortex's "tenant or sub-tenant not found" (§3.5). Sub-tenants come into
    // being with their first memory (§3.4), so a user with none simply has nothing to list.
    // A 404 without the envelope is a route the provider does not serve: a configuration error.
    if (isCortexNotFound(response.status, response.body)) return [];
    if (response.status < 200 || response.status > 299) throw unexpectedStatus(PROVIDER, response);
    const parsed = CortexListResponse.safeParse(response.body);
    if (!parsed.success) throw upstreamError('sent a memory list the gateway does not understand', response);
    if (parsed.data.success === false) throw upstreamError('refused to list memories', response);
    return parsed.data.user_memories;
  }

  function listOf(subTenant: string | null, call: CallOptions): Promise<CortexMemory[]> {
    const key = subTenant ?? '';
    let list = lists.get(key);
    if (!list) {
      list = fetchList(subTenant, call);
      lists.set(key, list);
    }
    return list;
  }

  return {
    backend: 'cortex',

    async list({ first, after, ...filter }, call = {}) {
      const key = after ? decodeCursor(CURSOR, after, isPositionKey) : undefined;
      const scope = listScope(filter);
      if (!scope) return emptyConnection();
      const scopeHash = shortHash(scope.subTenant ?? '');
      if (key && key.s !== scopeHash) {
        throw badInput('after', 'after is not a cursor of this list: pass pageInfo.endCursor from a previous page');
      }

      const items = await listOf(scope.subTenant, call);
      const start = key ? startAfter(items, key) : 0;
      const page = items.slice(start, start + first);
      const cursors = new Map<UserMemoryDTO, string>();
      const nodes = page.map((item, offset) => {
        const index = start + offset;
        const next = items[index + 1];
        const node: UserMemoryDTO = {
          id: item.id,
          content: item.content,
          userId: scope.userId,
          agentId: null,
          userPrompt: null,
          context: [],
          subTenantId: scope.subTenant,
          createdAt: null,
          updatedAt: null,
          backend: 'cortex',
        };
        cursors.set(node, encodeCursor(CURSOR, { s: scopeHash, l: shortHash(item.id), n: next ? shortHash(next.id) : null, i: index }));
        return node;
      });
      return toConnection(nodes, first, (node) => cursors.get(node)!, start + first < items.length);
    },

    async add() {
      throw notSupported(PROVIDER, 'adding user memories');
    },

    async delete(userMemoryId, { subTenantId, ownerUserId }, call = {}) {
      let subTenant = subTenantId ?? null;
      if (ownerUserId != null) {
        // An end user's memories live in the sub-tenant named after them; any other is not theirs.
        if (subTenant !== null && subTenant !== ownerUserId) throw notFound(`User memory ${userMemoryId}`);
        subTenant = ownerUserId;
      }
      const response = await client.request({
        method: 'DELETE',
        path: paths === 'user_memory' ? '/user_memory/delete_user_memory' : '/memories/delete_memory',
        query: { tenant_id: tenantId, memory_id: userMemoryId, sub_tenant_id: subTenant ?? undefined },
        signal: call.signal,
      });

      // Deletes are idempotent by id. When an earlier attempt of this same call may have been
      // applied before it failed (connection dropped after sending, 502/503/504; see
      // UpstreamResponse.mayHaveApplied), "not found" on the retry most likely means that attempt
      // deleted it, so the memory is reported deleted: it is gone either way.
      let deleted: boolean;
      if (isCortexNotFound(response.status, response.body)) {
        deleted = false;
      } else if (response.status >= 200 && response.status <= 299) {
        const parsed = CortexDeleteResponse.safeParse(response.body);
        if (!parsed.success) throw upstreamError('sent a delete result the gateway does not understand', response);
        if (parsed.data.success === false) throw upstreamError('refused to delete the memory', response);
        // 200 with user_memory_deleted:false: nothing was deleted, i.e. no such memory here (§3.2).
        deleted = parsed.data.user_memory_deleted;
      } else {
        throw unexpectedStatus(PROVIDER, response);
      }
      if (!deleted && !response.mayHaveApplied) throw notFound(`User memory ${userMemoryId}`);
    },
  };
}
