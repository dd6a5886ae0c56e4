import { AppError, badInput, notFound } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { pathSegment, unexpectedStatus, type UpstreamClient, type UpstreamResponse } from '../http.js';
import type { CallOptions, Connection, UserMemoryDTO, UserMemoryStore } from '../types.js';
import { DatagridUserMemory, DatagridUserMemoryList } from './schemas.js';

/**
 * User memories proxied to Datagrid (../shared/upstreams/README.md §2). Datagrid lists by
 * offset (`limit` ≤ 100, `offset` ≤ 100000, `has_more`) and has no user or agent filter (§2.2),
 * so the gateway filters, and keeps its own cursors: a position in the upstream list that
 * survives deletions before it. The order is assumed newest first (created_at descending), as
 * the gateway's lists are; Datagrid does not document it.
 */

const PROVIDER = 'datagrid';
const CURSOR = 'datagrid:userMemories';

/** Datagrid's page size limit (§2.2). */
export const UPSTREAM_PAGE_MAX = 100;
/** Datagrid's largest `offset` (§2.2): items further down cannot be read, so a list ends there. */
export const UPSTREAM_OFFSET_MAX = 100_000;
/**
 * Upstream calls one gateway operation may make while scanning (filtering, re-finding a cursor,
 * checking who owns a memory): at most MAX_SCAN_CALLS × 100 = 1000 items. Datagrid allows 200
 * requests per minute per teamspace, path and method (§2.5); one operation takes at most 5 % of
 * that. A filtered page that reaches the bound ends early with hasNextPage true and a cursor at
 * the last item scanned, so the next page carries on from there.
 */
export const MAX_SCAN_CALLS = 10;

/**
 * A position in the upstream list: the last item a page covered, by created_at and id, and `o`,
 * the offset just past it when the page was read. `o` is only a hint: when items before it are
 * deleted (or added) the item moves, and the gateway finds it again by scanning from the hint
 * (see `resume`).
 */
interface Position extends Record<string, unknown> {
  t: string;
  id: string;
  o: number;
}

const isPosition = (v: Record<string, unknown>): v is Position =>
  typeof v.t === 'string' &&
  !Number.isNaN(Date.parse(v.t)) &&
  typeof v.id === 'string' &&
  typeof v.o === 'number' &&
  Number.isInteger(v.o) &&
  v.o >= 1 &&
  v.o <= UPSTREAM_OFFSET_MAX + UPSTREAM_PAGE_MAX;

const cursorAt = (item: DatagridUserMemory, offset: number) => encodeCursor(CURSOR, { t: item.created_at, id: item.id, o: offset });

function unexpectedResponse(status: number): AppError {
  // Never the body or the parser's message: either may echo upstream data.
  return new AppError('UPSTREAM_ERROR', `${PROVIDER} sent a response the gateway does not understand`, {
    provider: PROVIDER,
    upstreamStatus: status,
  });
}

/** Datagrid sends "" for a text it has none of (every field is a required string on read, §2.2). */
const textOrNull = (value: string | null) => (value === null || value === '' ? null : value);

function toDTO(item: DatagridUserMemory): UserMemoryDTO {
  const date = (value: string | null | undefined) => {
    const ms = value ? Date.parse(value) : Number.NaN;
    return Number.isNaN(ms) ? null : new Date(ms);
  };
  const createdAt = date(item.created_at);
  return {
    id: item.id,
    content: item.memory.join('\n'),
    userId: textOrNull(item.user_id),
    agentId: textOrNull(item.agent_id),
    userPrompt: textOrNull(item.user_prompt),
    context: item.context,
    // Sub-tenants are a Cortex notion.
    subTenantId: null,
    createdAt,
    updatedAt: date(item.updated_at) ?? createdAt,
    backend: PROVIDER,
  };
}

/**
 * The upstream list as an array read lazily by offset. Each fetch reads up to 100 items (the
 * first one fewer, sized for the page at hand) and counts against MAX_SCAN_CALLS.
 */
class UpstreamList {
  private readonly items = new Map<number, DatagridUserMemory>();
  /** The list's length once a fetch has shown where it ends. */
  private end: number | undefined;
  private calls = 0;

  constructor(
    private readonly client: UpstreamClient,
    private readonly signal: AbortSignal | undefined,
    /** Size of the first fetch; later ones read 100. */
    private firstLimit: number,
  ) {}

  get exhausted(): boolean {
    return this.calls >= MAX_SCAN_CALLS;
  }

  /** A new scan phase gets its own MAX_SCAN_CALLS (what was read stays known). */
  newPhase(): void {
    this.calls = 0;
  }

  /** The length of the list, when known. */
  get length(): number | undefined {
    return this.end;
  }

  /** Whether reading `offset` needs no upstream call. */
  known(offset: number): boolean {
    return this.items.has(offset) || (this.end !== undefined && offset >= this.end) || offset > UPSTREAM_OFFSET_MAX;
  }

  /** The item at `offset`, or undefined past the end. Reads forward from `offset` when unknown. */
  async at(offset: number): Promise<DatagridUserMemory | undefined> {
    if (!this.known(offset)) await this.fetch(offset, UPSTREAM_PAGE_MAX);
    return this.items.get(offset);
  }

  /** Like `at`, but an unknown offset is read as the last of a block, for walking backwards. */
  async before(offset: number): Promise<DatagridUserMemory | undefined> {
    const start = Math.max(0, offset - UPSTREAM_PAGE_MAX + 1);
    if (!this.known(offset)) await this.fetch(start, offset - start + 1);
    return this.items.get(offset);
  }

  private async fetch(offset: number, limitCap: number): Promise<void> {
    if (this.exhausted) throw new ScanBoundReached();
    const limit = Math.min(this.firstLimit, limitCap, UPSTREAM_PAGE_MAX);
    this.firstLimit = UPSTREAM_PAGE_MAX;
    this.calls += 1;
    const response = await this.client.request({ method: 'GET', path: '/user-memories', query: { limit, offset }, signal: this.signal });
    if (response.status !== 200) throw unexpectedStatus(PROVIDER, response);
    const parsed = DatagridUserMemoryList.safeParse(response.body);
    if (!parsed.success) throw unexpectedResponse(response.status);
    const { data, has_more: hasMore } = parsed.data;
    data.forEach((item, i) => this.items.set(offset + i, item));
    // `has_more` is optional (§2.2): without it, a short page is the last one.
    if (hasMore === false || data.length === 0 || (hasMore == null && data.length < limit)) this.end = offset + data.length;
  }
}

/** Thrown inside a scan when MAX_SCAN_CALLS is used up; callers decide what that means. */
class ScanBoundReached extends Error {}

/** Is `item` strictly newer than the timestamp `t` (milliseconds)? */
const newerThan = (item: DatagridUserMemory, t: number) => Date.parse(item.created_at) > t;

/**
 * Where the list continues after `position`: the offset just past its item. When that item was
 * deleted, the first item not newer than it; items with exactly its created_at are then shown
 * (again, if they came before it), since Datagrid's order among equal timestamps is unknown:
 * a repeat rather than a gap.
 *
 * Usually the item is still at `o - 1` and this reads nothing beyond the page itself. Otherwise it
 * walks from the hint, backwards while the items it meets are not newer than the position (items
 * before it were deleted) and forwards while they are newer (items were added before it).
 */
async function resume(list: UpstreamList, position: Position): Promise<number> {
  const t = Date.parse(position.t);
  const hint = Math.min(position.o - 1, UPSTREAM_OFFSET_MAX);
  const atHint = await list.at(hint);
  if (atHint?.id === position.id) return hint + 1;

  // `boundary`: the first offset whose item is not newer than the position (or the end).
  let boundary = hint;
  if (atHint && newerThan(atHint, t)) {
    do boundary += 1;
    while (await list.at(boundary).then((item) => item !== undefined && newerThan(item, t)));
  } else {
    while (boundary > 0) {
      // Past the end (the list shrank): nothing there to compare, jump to the end.
      if (list.length !== undefined && boundary > list.length) {
        boundary = list.length;
        continue;
      }
      const previous = await list.before(boundary - 1);
      if (previous && newerThan(previous, t)) break;
      boundary -= 1;
    }
  }
  // Among the items sharing its timestamp, the position's own item may still be there.
  for (let offset = boundary; ; offset++) {
    const item = await list.at(offset);
    if (!item || Date.parse(item.created_at) !== t) return boundary;
    if (item.id === position.id) return offset + 1;
  }
}

function connection(edges: { cursor: string; node: UserMemoryDTO }[], hasNextPage: boolean, endCursor?: string): Connection<UserMemoryDTO> {
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: endCursor ?? edges.at(-1)?.cursor ?? null,
    },
  };
}

export function datagridUserMemoryStore(client: UpstreamClient): UserMemoryStore {
  /**
   * Finds a memory by id, scanning at most MAX_SCAN_CALLS pages. Undefined when it is not in the
   * list or not within the bound.
   */
  async function find(id: string, options?: CallOptions): Promise<DatagridUserMemory | undefined> {
    const list = new UpstreamList(client, options?.signal, UPSTREAM_PAGE_MAX);
    try {
      for (let offset = 0; ; offset++) {
        const item = await list.at(offset);
        if (!item) return undefined;
        if (item.id === id) return item;
      }
    } catch (error) {
      if (error instanceof ScanBoundReached) return undefined;
      throw error;
    }
  }

  return {
    backend: PROVIDER,

    // `subTenantId` is a Cortex notion; Datagrid has nothing to match it against.
    async list({ first, after, userId, agentId }, options) {
      const position = after ? decodeCursor(CURSOR, after, isPosition) : undefined;
      const filtered = userId != null || agentId != null;
      const matches = (item: DatagridUserMemory) =>
        (userId == null || item.user_id === userId) && (agentId == null || item.agent_id === agentId);
      // Unfiltered, one read of the page plus one item (and the cursor's own item) is enough;
      // filtered, read full pages of 100 to keep the calls few.
      const firstLimit = filtered ? UPSTREAM_PAGE_MAX : first + 1 + (position ? 1 : 0);
      const list = new UpstreamList(client, options?.signal, firstLimit);

      let offset = 0;
      if (position) {
        try {
          offset = await resume(list, position);
        } catch (error) {
          if (!(error instanceof ScanBoundReached)) throw error;
          throw badInput('after', 'after points too far into a list that has changed a lot since: start again from the first page');
        }
      }

      list.newPhase();
      const found: { item: DatagridUserMemory; offset: number }[] = [];
      let bounded = false;
      for (;;) {
        if (found.length > first || (found.length === first && !filtered)) break;
        if (!list.known(offset) && list.exhausted) {
          bounded = true;
          break;
        }
        const item = await list.at(offset);
        if (!item) break;
        if (matches(item)) found.push({ item, offset });
        offset += 1;
      }
      // Unfiltered, a full page needs no look-ahead item: an offset not yet known past it is one
      // that the last read's `has_more` said exists.
      const more = found.length > first || (!filtered && found.length === first && (!list.known(offset) || (await list.at(offset)) !== undefined));

      const page = found.slice(0, first);
      const edges = page.map(({ item, offset: at }) => ({ cursor: cursorAt(item, at + 1), node: toDTO(item) }));
      if (!bounded) return connection(edges, more);

      // The scan bound cut the page short: the last edge's cursor (or, with no match at all, the
      // end cursor) points at the last item scanned, so the next page skips what was scanned.
      const scanned = offset - 1;
      const last = scanned >= 0 && list.known(scanned) ? await list.at(scanned) : undefined;
      if (!last) return connection(edges, true);
      const frontier = cursorAt(last, scanned + 1);
      if (edges.length > 0) edges[edges.length - 1]!.cursor = frontier;
      return connection(edges, true, frontier);
    },

    async add(input, options) {
      // Datagrid requires agent_id (§2.4); refuse before anything is sent.
      if (input.agentId == null) throw badInput('input.agentId', 'input.agentId is required by this tenant’s user-memory backend (Datagrid)');
      // The create body has no user field (§2.4): Datagrid attributes the memory to the user the
      // API key resolves to, so `input.userId` cannot be forwarded; the answer carries the real one.
      const response = await client.request({
        method: 'POST',
        path: '/user-memories',
        body: {
          agent_id: input.agentId,
          memory: input.content,
          user_prompt: input.userPrompt,
          // A single string on create (§2.4); the lines come back as an array on read.
          context: input.context.length > 0 ? input.context.join('\n') : null,
        },
        // Creating consumes credits (§2.4) and is not idempotent: the client repeats it only on 429.
        idempotent: false,
        signal: options?.signal,
      });
      if (response.status !== 201 && response.status !== 200) throw unexpectedStatus(PROVIDER, response);
      const parsed = DatagridUserMemory.safeParse(response.body);
      if (!parsed.success) throw unexpectedResponse(response.status);
      return toDTO(parsed.data);
    },

    // `subTenantId` is a Cortex notion and is ignored here.
    async delete(userMemoryId, { ownerUserId }, options) {
      if (ownerUserId != null) {
        // Datagrid deletes by id alone (§2.3). An end user may delete only their own memories, so
        // the memory is looked up first (bounded scan) and anything else is NOT_FOUND.
        const item = await find(userMemoryId, options);
        if (!item || item.user_id !== ownerUserId) throw notFound(`User memory ${userMemoryId}`);
      }
      const response: UpstreamResponse = await client.request({
        method: 'DELETE',
        path: `/user-memories/${pathSegment(userMemoryId, 'User memory')}`,
        route: '/user-memories/{userMemoryId}',
        // The SDK sends Accept: */* here: the 204 has no body (§2.3).
        headers: { accept: '*/*' },
        signal: options?.signal,
      });
      if (response.status >= 200 && response.status < 300) return;
      if (response.status === 404) {
        // Deletes are idempotent by id. When an earlier attempt of this same call failed in a way
        // that may have reached Datagrid (connection dropped after sending, 502/503/504), a 404
        // now most likely means that attempt deleted it: report the delete as done.
        // (A 404 may also be a teamspace outside the key's account, §2.1; the body that would
        // tell them apart is undocumented, and the tenant's lists report that case loudly.)
        if (response.mayHaveApplied) return;
        throw notFound(`User memory ${userMemoryId}`);
      }
      throw unexpectedStatus(PROVIDER, response);
    },
  };
}
