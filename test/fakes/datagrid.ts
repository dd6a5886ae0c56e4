import { randomUUID } from 'node:crypto';
import { bearerToken, FakeHttpServer, keyFingerprint, monotonicClock, parseIntParam, type FakeRequest, type FakeResponse } from './fake-server.js';

/**
 * Datagrid user memories, after ../shared/upstreams/README.md §2 (docs + datagrid-ai 0.17.2).
 * `url` ends in /v1 like the SDK's default base URL (§2.1). Data is scoped by API key and, when
 * the `Datagrid-Teamspace` header is sent, by teamspace (the fake behaves like an account-scoped
 * key, for which the header is honoured). Only 429 bodies are documented; the JSON the fake
 * sends for 401/404/422 reuses the documented error shape and is its own choice.
 */

export interface DatagridFakeOptions {
  /** API keys the fake accepts; each is a separate account. */
  apiKeys: string[];
  /**
   * The sliding window the fake enforces and reports in X-RateLimit-*, counted per key +
   * teamspace + route + method (§2.5). Default: 200 requests per 60 s, Datagrid's default.
   */
  rateLimitPolicy?: { limit: number; windowSeconds: number };
  /** `credits.consumed` of a create; null is the documented "billing write failed" answer (§2.4). Default 1. */
  creditsConsumed?: number | null;
}

export interface DatagridMemorySeed {
  /** One string or several; memories are arrays on read (§2.2). */
  memory: string | string[];
  /** Default: the user the fake attributes the key's own memories to (`userIdOf(apiKey)`). */
  user_id?: string;
  /** Default 'agent_default'. */
  agent_id?: string;
  user_prompt?: string;
  context?: string[];
  /** ISO date-time or Date. Omitted → the fake's monotonic clock. */
  created_at?: string | Date;
  /** The `Datagrid-Teamspace` the memory lives in; omitted → the key's default space. */
  teamspace?: string;
}

/** `UserMemory`, all fields required (§2.2). */
export interface DatagridUserMemory {
  object: 'user_memory';
  id: string;
  updated_at: string;
  created_at: string;
  user_prompt: string;
  context: string[];
  agent_id: string;
  user_id: string;
  memory: string[];
}

interface Stored {
  item: DatagridUserMemory;
  seq: number;
}

const COLLECTION = '/v1/user-memories';
const ITEM = /^\/v1\/user-memories\/([^/]+)$/;

export class DatagridFake extends FakeHttpServer {
  readonly #apiKeys: Set<string>;
  readonly #policy: { limit: number; windowMs: number };
  readonly #credits: number | null;
  /** `${apiKey}\0${teamspace}` → memories */
  readonly #spaces = new Map<string, Stored[]>();
  /** rate-limit window key → request times (ms) inside the window */
  readonly #hits = new Map<string, number[]>();
  readonly #clock = monotonicClock();
  #seq = 0;

  constructor(options: DatagridFakeOptions) {
    super('/v1');
    this.#apiKeys = new Set(options.apiKeys);
    const policy = options.rateLimitPolicy ?? { limit: 200, windowSeconds: 60 };
    this.#policy = { limit: policy.limit, windowMs: policy.windowSeconds * 1000 };
    this.#credits = options.creditsConsumed === undefined ? 1 : options.creditsConsumed;
  }

  /**
   * The user id the fake puts on memories created with this key. How Datagrid resolves the user
   * is undocumented (§2.2); the fake derives an id from a hash of the key, never the key itself.
   */
  userIdOf(apiKey: string): string {
    return `user_${keyFingerprint(apiKey)}`;
  }

  /** Stores a memory in the key's account (and teamspace); returns its id. */
  seedMemory(apiKey: string, seed: DatagridMemorySeed): string {
    if (!this.#apiKeys.has(apiKey)) throw new Error('seedMemory: unknown API key');
    const createdAt = seed.created_at === undefined ? this.#clock() : new Date(seed.created_at);
    if (Number.isNaN(createdAt.getTime())) throw new Error(`seedMemory: bad created_at ${String(seed.created_at)}`);
    return this.#store(spaceKey(apiKey, seed.teamspace), {
      memory: Array.isArray(seed.memory) ? seed.memory : [seed.memory],
      user_id: seed.user_id ?? this.userIdOf(apiKey),
      agent_id: seed.agent_id ?? 'agent_default',
      user_prompt: seed.user_prompt ?? '',
      context: seed.context ?? [],
      createdAt,
    }).id;
  }

  /** The documented 429 body and headers (§2.5). */
  protected rateLimited(_req: FakeRequest, retryAfterSeconds: number): FakeResponse {
    return {
      status: 429,
      headers: {
        'retry-after': String(retryAfterSeconds),
        'x-ratelimit-limit': String(this.#policy.limit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retryAfterSeconds),
      },
      json: {
        status_code: 429,
        statusCode: 429,
        error: 'rate_limit_exceeded',
        message: 'Rate limit exceeded',
        mitigation: 'Implement exponential backoff and retry with delays',
        retryable: true,
        details: { reason: 'Rate limit exceeded. Please retry after the current window resets.' },
      },
    };
  }

  /** "Every response carries X-RateLimit-*" (§2.5): responses that did not count a request get the current state. */
  protected finish(req: FakeRequest, response: FakeResponse): FakeResponse {
    if (response.headers?.['x-ratelimit-limit']) return response;
    const key = this.#windowKey(req);
    return { ...response, headers: { ...response.headers, ...this.#windowHeaders(this.#recentHits(key), Date.now()) } };
  }

  protected handle(req: FakeRequest): FakeResponse {
    const token = bearerToken(req.headers);
    if (!token || !this.#apiKeys.has(token)) return failure(401, 'unauthorized', 'Invalid or missing API key');

    const windowKey = this.#windowKey(req);
    const now = Date.now();
    const hits = this.#recentHits(windowKey);
    if (hits.length >= this.#policy.limit) {
      const retryAfter = Math.max(1, Math.ceil((hits[0]! + this.#policy.windowMs - now) / 1000));
      return this.rateLimited(req, retryAfter);
    }
    hits.push(now);
    this.#hits.set(windowKey, hits);
    const headers = this.#windowHeaders(hits, now);

    const space = spaceKey(token, req.headers['datagrid-teamspace']);
    let response: FakeResponse;
    if (req.path === COLLECTION && req.method === 'GET') response = this.#list(req, space);
    else if (req.path === COLLECTION && req.method === 'POST') response = this.#create(req, space, token);
    else if (ITEM.test(req.path) && req.method === 'DELETE') response = this.#delete(space, ITEM.exec(req.path)![1]!);
    else if (req.path === COLLECTION || ITEM.test(req.path)) response = failure(405, 'method_not_allowed', 'Method not allowed');
    else response = failure(404, 'not_found', 'Not found');
    return { ...response, headers: { ...headers, ...response.headers } };
  }

  /** GET /user-memories?limit=&offset= (§2.2): newest first, offset pagination with has_more. */
  #list(req: FakeRequest, space: string): FakeResponse {
    const limit = parseIntParam(req.query.get('limit')) ?? 20;
    const offset = parseIntParam(req.query.get('offset')) ?? 0;
    if (limit === 'invalid' || limit < 1 || limit > 100) return failure(422, 'validation_error', 'limit must be an integer between 1 and 100');
    if (offset === 'invalid' || offset < 0 || offset > 100000) {
      return failure(422, 'validation_error', 'offset must be an integer between 0 and 100000');
    }
    const all = [...(this.#spaces.get(space) ?? [])].sort(
      (a, b) => Date.parse(b.item.created_at) - Date.parse(a.item.created_at) || b.seq - a.seq,
    );
    const data = all.slice(offset, offset + limit).map((s) => s.item);
    return { status: 200, json: { object: 'list', data, has_more: offset + data.length < all.length } };
  }

  /** POST /user-memories (§2.4): 201 with the UserMemory plus `credits`. */
  #create(req: FakeRequest, space: string, apiKey: string): FakeResponse {
    if (req.jsonError !== undefined) return failure(422, 'validation_error', 'Request body is not valid JSON');
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return failure(422, 'validation_error', 'Request body must be a JSON object');
    }
    const { agent_id, memory, user_prompt, context } = body as Record<string, unknown>;
    if (typeof agent_id !== 'string') return failure(422, 'validation_error', 'agent_id is required and must be a string');
    if (typeof memory !== 'string') return failure(422, 'validation_error', 'memory is required and must be a string');
    if (user_prompt != null && typeof user_prompt !== 'string') return failure(422, 'validation_error', 'user_prompt must be a string or null');
    if (context != null && typeof context !== 'string') return failure(422, 'validation_error', 'context must be a string or null');
    const item = this.#store(space, {
      memory: [memory],
      user_id: this.userIdOf(apiKey),
      agent_id,
      // Read shape requires strings/arrays (§2.2); what null turns into upstream is undocumented.
      user_prompt: user_prompt ?? '',
      context: context ? [context] : [],
      createdAt: this.#clock(),
    });
    const credits = this.#credits === null ? null : { consumed: this.#credits };
    return { status: 201, json: { ...item, credits } };
  }

  /** DELETE /user-memories/{id} (§2.3): 204 without a body; unknown id → 404 (body undocumented). */
  #delete(space: string, rawId: string): FakeResponse {
    const id = safeDecode(rawId);
    const memories = this.#spaces.get(space) ?? [];
    const index = memories.findIndex((s) => s.item.id === id);
    if (index < 0) return failure(404, 'not_found', 'User memory not found');
    memories.splice(index, 1);
    return { status: 204 };
  }

  #store(
    space: string,
    f: { memory: string[]; user_id: string; agent_id: string; user_prompt: string; context: string[]; createdAt: Date },
  ): DatagridUserMemory {
    const at = f.createdAt.toISOString();
    const item: DatagridUserMemory = {
      object: 'user_memory',
      id: `umem_${randomUUID().replace(/-/g, '')}`,
      updated_at: at,
      created_at: at,
      user_prompt: f.user_prompt,
      context: f.context,
      agent_id: f.agent_id,
      user_id: f.user_id,
      memory: f.memory,
    };
    const memories = this.#spaces.get(space) ?? [];
    memories.push({ item, seq: ++this.#seq });
    this.#spaces.set(space, memories);
    return item;
  }

  /** Scope per teamspace + endpoint path + method (§2.5); the path is the route, not the concrete id. */
  #windowKey(req: FakeRequest): string {
    const route = ITEM.test(req.path) ? '/v1/user-memories/{user_memory_id}' : req.path;
    return `${bearerToken(req.headers) ?? ''}\0${req.headers['datagrid-teamspace'] ?? ''}\0${req.method} ${route}`;
  }

  #recentHits(windowKey: string): number[] {
    const since = Date.now() - this.#policy.windowMs;
    return (this.#hits.get(windowKey) ?? []).filter((t) => t > since);
  }

  /** X-RateLimit-* for a window holding `hits`; Retry-After only once nothing remains (§2.5). */
  #windowHeaders(hits: number[], now: number): Record<string, string> {
    const remaining = Math.max(0, this.#policy.limit - hits.length);
    const resetMs = (hits[0] ?? now) + this.#policy.windowMs;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(this.#policy.limit),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(Math.ceil(resetMs / 1000)),
    };
    if (remaining === 0) headers['retry-after'] = String(Math.max(1, Math.ceil((resetMs - now) / 1000)));
    return headers;
  }
}

export async function startDatagridFake(options: DatagridFakeOptions): Promise<DatagridFake> {
  return new DatagridFake(options).listen();
}

function spaceKey(apiKey: string, teamspace: string | undefined): string {
  return `${apiKey}\0${teamspace ?? ''}`;
}

/** Errors in the shape of the documented 429 body (§2.5); their exact bodies are undocumented. */
function failure(status: number, error: string, message: string): FakeResponse {
  return { status, json: { status_code: status, statusCode: status, error, message, retryable: false } };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
