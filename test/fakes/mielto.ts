import { randomUUID } from 'node:crypto';
import { bearerToken, FakeHttpServer, monotonicClock, parseIntParam, type FakeRequest, type FakeResponse } from './fake-server.js';

/**
 * Mielto memories, after ../shared/upstreams/README.md §4 (docs.mielto.com OpenAPI + mielto-sdk).
 * `url` is the host; the API lives under /api/v1 (§4.1). Data is scoped by API key and, when the
 * `X-Workspace-Id` header is sent, by workspace. Only 200 and 422 are documented (§4.7); the
 * 401/404 bodies are FastAPI-style `{detail: "..."}`, which is what the SDK's error handler reads.
 */

export interface MieltoFakeOptions {
  /** API keys the fake accepts (as Bearer or X-API-Key); each is a separate account. */
  apiKeys: string[];
  /** Array key of the list: `memories` (docs; default) or `data` (the TS SDK's reading, §4.2). */
  listKey?: 'memories' | 'data';
  /** Delete answers 200 `{memory_id, message}` (docs; default) or 204 without a body (SDK comment, §4.4). */
  deleteStatus?: 200 | 204;
  /**
   * Whether a delete with a `user_id` that is not the owner's is refused (default true). §4.4
   * says only the owner can delete, but not how the check is made; `false` plays a provider that
   * leaves it to the caller.
   */
  ownerCheckOnDelete?: boolean;
}

export interface MieltoMemorySeed {
  user_id: string;
  memory: string;
  /** Omitted → null (`topics` is nullable, §4.3). */
  topics?: string[] | null;
  /** Omitted → null. */
  metadata?: Record<string, unknown> | null;
  /** The `X-Workspace-Id` the memory lives in; omitted → the key's default workspace. */
  workspaceId?: string;
  /** ISO date-time or Date. Omitted → the fake's monotonic clock. */
  created_at?: string | Date;
  /** Omitted → created_at. */
  updated_at?: string | Date;
}

/** `MemoryResponse` (§4.3). */
export interface MieltoMemory {
  memory_id: string;
  user_id: string;
  memory: string;
  topics: string[] | null;
  created_at: string;
  updated_at: string;
  metadata: Record<string, unknown> | null;
}

const COLLECTION = '/api/v1/memories';
const ITEM = /^\/api\/v1\/memories\/([^/]+)$/;
const SORT_FIELDS = ['updated_at', 'created_at', 'memory_id'] as const;
type SortField = (typeof SORT_FIELDS)[number];

interface ValidationErrorItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
}

export class MieltoFake extends FakeHttpServer {
  readonly #apiKeys: Set<string>;
  readonly #listKey: 'memories' | 'data';
  readonly #deleteStatus: 200 | 204;
  readonly #ownerCheckOnDelete: boolean;
  /** `${apiKey}\0${workspace}` → memory_id → memory */
  readonly #spaces = new Map<string, Map<string, MieltoMemory>>();
  /**
   * Deleted memories, kept only so that a cursor naming one still marks a position. Whether
   * Mielto honours such a cursor is unconfirmed; the fake chooses to.
   */
  readonly #deleted = new Map<string, Map<string, MieltoMemory>>();
  readonly #clock = monotonicClock();

  constructor(options: MieltoFakeOptions) {
    super();
    this.#apiKeys = new Set(options.apiKeys);
    this.#listKey = options.listKey ?? 'memories';
    this.#deleteStatus = options.deleteStatus ?? 200;
    this.#ownerCheckOnDelete = options.ownerCheckOnDelete ?? true;
  }

  /** Stores a memory in the key's account (and workspace); returns its id. */
  seedMemory(apiKey: string, seed: MieltoMemorySeed): string {
    if (!this.#apiKeys.has(apiKey)) throw new Error('seedMemory: unknown API key');
    const createdAt = seed.created_at === undefined ? this.#clock() : new Date(seed.created_at);
    const updatedAt = seed.updated_at === undefined ? createdAt : new Date(seed.updated_at);
    if (Number.isNaN(createdAt.getTime()) || Number.isNaN(updatedAt.getTime())) throw new Error('seedMemory: bad timestamp');
    return this.#store(spaceKey(apiKey, seed.workspaceId), {
      user_id: seed.user_id,
      memory: seed.memory,
      topics: seed.topics ?? null,
      metadata: seed.metadata ?? null,
      createdAt,
      updatedAt,
    }).memory_id;
  }

  /** Rate limits are undocumented (§4.7); the body follows the SDK's `{detail}` reading. */
  protected rateLimited(_req: FakeRequest, retryAfterSeconds: number): FakeResponse {
    return { status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, json: { detail: 'Too many requests' } };
  }

  protected handle(req: FakeRequest): FakeResponse {
    // DualAuthScheme: `Authorization: Bearer <key>` or `X-API-Key: <key>` (§4.1).
    const offered = [bearerToken(req.headers), req.headers['x-api-key']].filter((k): k is string => !!k);
    if (offered.length === 0) return { status: 401, json: { detail: 'Not authenticated' } };
    const apiKey = offered.find((k) => this.#apiKeys.has(k));
    if (!apiKey) return { status: 401, json: { detail: 'Invalid API key' } };

    const space = spaceKey(apiKey, req.headers['x-workspace-id']);
    if (req.path === COLLECTION) {
      if (req.method === 'GET') return this.#list(req, space);
      if (req.method === 'POST') return this.#create(req, space);
      return methodNotAllowed();
    }
    const m = ITEM.exec(req.path);
    if (m) {
      const id = safeDecode(m[1]!);
      if (req.method === 'GET') return this.#get(space, id, req.query.get('user_id'));
      if (req.method === 'DELETE') return this.#delete(space, id, req.query.get('user_id'));
      return methodNotAllowed();
    }
    return { status: 404, json: { detail: 'Not Found' } };
  }

  /**
   * GET /api/v1/memories (§4.2). `next_cursor` is the id of the last memory returned; the next
   * page starts after it in the same order. `total_count` counts this page only, as the docs
   * word it ("Total number of memories returned in this request").
   */
  #list(req: FakeRequest, space: string): FakeResponse {
    const q = req.query;
    const errors: ValidationErrorItem[] = [];
    const limit = parseIntParam(q.get('limit')) ?? 50;
    if (limit === 'invalid') {
      errors.push({ type: 'int_parsing', loc: ['query', 'limit'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: q.get('limit') });
    } else if (limit < 1) {
      errors.push({ type: 'greater_than_equal', loc: ['query', 'limit'], msg: 'Input should be greater than or equal to 1', input: q.get('limit') });
    } else if (limit > 100) {
      errors.push({ type: 'less_than_equal', loc: ['query', 'limit'], msg: 'Input should be less than or equal to 100', input: q.get('limit') });
    }
    const sortOrder = q.get('sort_order') ?? 'desc';
    if (sortOrder !== 'asc' && sortOrder !== 'desc') {
      errors.push({ type: 'literal_error', loc: ['query', 'sort_order'], msg: "Input should be 'asc' or 'desc'", input: sortOrder });
    }
    // Which sort fields Mielto accepts beyond the documented examples is unconfirmed; the fake refuses others.
    const sortBy = (q.get('sort_by') ?? 'updated_at') as SortField;
    if (!SORT_FIELDS.includes(sortBy)) {
      errors.push({ type: 'value_error', loc: ['query', 'sort_by'], msg: `Value error, sort_by must be one of ${SORT_FIELDS.join(', ')}`, input: sortBy });
    }
    const cursorId = q.get('cursor');
    const cursor = cursorId ? (this.#spaces.get(space)?.get(cursorId) ?? this.#deleted.get(space)?.get(cursorId)) : undefined;
    if (cursorId && !cursor) {
      errors.push({ type: 'value_error', loc: ['query', 'cursor'], msg: 'Value error, unknown cursor', input: cursorId });
    }
    if (errors.length > 0 || limit === 'invalid') return { status: 422, json: { detail: errors } };

    const direction = sortOrder === 'asc' ? 1 : -1;
    const compare = (a: MieltoMemory, b: MieltoMemory) =>
      direction * (compareText(a[sortBy], b[sortBy]) || compareText(a.memory_id, b.memory_id));
    const userId = q.get('user_id');
    const matching = [...(this.#spaces.get(space)?.values() ?? [])]
      .filter((m) => !userId || m.user_id === userId)
      .filter((m) => !cursor || compare(m, cursor) > 0)
      .sort(compare);
    const page = matching.slice(0, limit);
    const hasMore = matching.length > limit;
    return {
      status: 200,
      json: {
        [this.#listKey]: page,
        total_count: page.length,
        next_cursor: hasMore ? page.at(-1)!.memory_id : null,
        has_more: hasMore,
      },
    };
  }

  /** POST /api/v1/memories, body `MemoryCreate` → 200 `{memory_id, message, memory}` (§4.5). */
  #create(req: FakeRequest, space: string): FakeResponse {
    if (req.jsonError !== undefined) {
      return { status: 422, json: { detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {} }] } };
    }
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return {
        status: 422,
        json: { detail: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body ?? null }] },
      };
    }
    const b = body as Record<string, unknown>;
    const errors: ValidationErrorItem[] = [];
    for (const field of ['user_id', 'memory'] as const) {
      if (b[field] === undefined) errors.push({ type: 'missing', loc: ['body', field], msg: 'Field required', input: b });
      else if (typeof b[field] !== 'string') errors.push({ type: 'string_type', loc: ['body', field], msg: 'Input should be a valid string', input: b[field] });
    }
    if (b.memory_type != null && typeof b.memory_type !== 'string') {
      errors.push({ type: 'string_type', loc: ['body', 'memory_type'], msg: 'Input should be a valid string', input: b.memory_type });
    }
    if (b.topics != null && !(Array.isArray(b.topics) && b.topics.every((t) => typeof t === 'string'))) {
      errors.push({ type: 'list_type', loc: ['body', 'topics'], msg: 'Input should be a valid list of strings', input: b.topics });
    }
    if (b.metadata != null && (typeof b.metadata !== 'object' || Array.isArray(b.metadata))) {
      errors.push({ type: 'dict_type', loc: ['body', 'metadata'], msg: 'Input should be a valid dictionary', input: b.metadata });
    }
    if (errors.length > 0) return { status: 422, json: { detail: errors } };

    const at = this.#clock();
    const memory = this.#store(space, {
      user_id: b.user_id as string,
      memory: b.memory as string,
      topics: (b.topics as string[] | null | undefined) ?? null,
      metadata: (b.metadata as Record<string, unknown> | null | undefined) ?? null,
      createdAt: at,
      updatedAt: at,
    });
    return { status: 200, json: { memory_id: memory.memory_id, message: 'Memory created successfully', memory } };
  }

  /** GET /api/v1/memories/{memory_id}?user_id= → the flat MemoryResponse (§4.6). */
  #get(space: string, id: string, userId: string | null): FakeResponse {
    const stored = this.#spaces.get(space)?.get(id);
    if (!stored || (userId && stored.user_id !== userId)) return notFound();
    return { status: 200, json: stored };
  }

  /**
   * DELETE /api/v1/memories/{memory_id}?user_id= (§4.4). "Only the memory owner can delete":
   * a `user_id` that is not the owner's gets the same 404 as an unknown id (the real status for
   * this case, 403 or 404, is unconfirmed).
   */
  #delete(space: string, id: string, userId: string | null): FakeResponse {
    const memories = this.#spaces.get(space);
    const stored = memories?.get(id);
    if (!memories || !stored || (this.#ownerCheckOnDelete && userId && stored.user_id !== userId)) return notFound();
    memories.delete(id);
    const deleted = this.#deleted.get(space) ?? new Map<string, MieltoMemory>();
    deleted.set(id, stored);
    this.#deleted.set(space, deleted);
    if (this.#deleteStatus === 204) return { status: 204 };
    return { status: 200, json: { memory_id: id, message: 'Memory deleted successfully' } };
  }

  #store(
    space: string,
    f: { user_id: string; memory: string; topics: string[] | null; metadata: Record<string, unknown> | null; createdAt: Date; updatedAt: Date },
  ): MieltoMemory {
    const item: MieltoMemory = {
      memory_id: `mem_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      user_id: f.user_id,
      memory: f.memory,
      topics: f.topics,
      created_at: f.createdAt.toISOString(),
      updated_at: f.updatedAt.toISOString(),
      metadata: f.metadata,
    };
    const memories = this.#spaces.get(space) ?? new Map<string, MieltoMemory>();
    memories.set(item.memory_id, item);
    this.#spaces.set(space, memories);
    return item;
  }
}

export async function startMieltoFake(options: MieltoFakeOptions): Promise<MieltoFake> {
  return new MieltoFake(options).listen();
}

function spaceKey(apiKey: string, workspaceId: string | undefined): string {
  return `${apiKey}\0${workspaceId ?? ''}`;
}

/** Code-unit order, independent of the locale (ISO timestamps and ids sort correctly). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function notFound(): FakeResponse {
  return { status: 404, json: { detail: 'Memory not found' } };
}

function methodNotAllowed(): FakeResponse {
  return { status: 405, json: { detail: 'Method Not Allowed' } };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
