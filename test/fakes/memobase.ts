import { randomUUID } from 'node:crypto';
import { bearerToken, FakeHttpServer, monotonicClock, parseIntParam, type FakeRequest, type FakeResponse, type FaultOptions } from './fake-server.js';

/**
 * Memobase user events, after ../shared/upstreams/README.md §1 (memodb-io/memobase server code).
 * `url` is the project URL; the API lives under /api/v1 (§1.1). Every accepted API key is its
 * own project with its own users.
 */

export interface MemobaseFakeOptions {
  /** Project tokens the fake accepts; each is a separate project. */
  apiKeys: string[];
}

export interface ProfileDelta {
  content: string;
  /** Usually `{ topic, sub_topic }` (§1.3). */
  attributes: Record<string, unknown> | null;
}

export interface EventTag {
  tag: string;
  value: string;
}

export interface MemobaseEventSeed {
  /** Omitted → null, as events produced without a tip come back (§1.3 EventData is all-nullable). */
  eventTip?: string | null;
  eventTags?: EventTag[] | null;
  profileDelta?: ProfileDelta[] | null;
  /** ISO date-time or Date. Omitted → the fake's monotonic clock. */
  createdAt?: string | Date;
}

interface StoredEvent {
  id: string;
  eventTip: string | null;
  eventTags: EventTag[] | null;
  profileDelta: ProfileDelta[] | null;
  createdAt: Date;
  seq: number;
}

/** `controllers/event.py::get_user_events` only reads events newer than this (§1.3). */
const RECENT_DAYS = 21;
const UUID_ANY = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const LIST_PATH = /^\/api\/v1\/users\/event\/([^/]+)$/;
const DELETE_PATH = /^\/api\/v1\/users\/event\/([^/]+)\/([^/]+)$/;
/** The errmsg of `global_wrapper_middleware` for an unhandled exception (§1.2). */
const UNKNOWN_ERROR =
  'Sorry, we have encountered an unknown error: \nfake failure\nPlease report this issue to https://github.com/memodb-io/memobase/issues';

export class MemobaseFake extends FakeHttpServer {
  readonly #apiKeys: Set<string>;
  /** project token → user_id → events */
  readonly #events = new Map<string, Map<string, StoredEvent[]>>();
  readonly #clock = monotonicClock();
  #seq = 0;

  constructor(options: MemobaseFakeOptions) {
    super();
    this.#apiKeys = new Set(options.apiKeys);
  }

  /** Stores an event for `userId` (a UUID v4/v5) in the project of `apiKey`; returns its id (UUID v4). */
  seedEvent(apiKey: string, userId: string, seed: MemobaseEventSeed = {}): string {
    if (!this.#apiKeys.has(apiKey)) throw new Error('seedEvent: unknown API key');
    const user = normaliseUuid(userId);
    if (!user || !isV4orV5(user)) throw new Error(`seedEvent: user id must be a UUID v4 or v5, got ${userId}`);
    const createdAt = seed.createdAt === undefined ? this.#clock() : new Date(seed.createdAt);
    if (Number.isNaN(createdAt.getTime())) throw new Error(`seedEvent: bad createdAt ${String(seed.createdAt)}`);
    const event: StoredEvent = {
      id: randomUUID(),
      eventTip: seed.eventTip ?? null,
      eventTags: seed.eventTags ?? null,
      profileDelta: seed.profileDelta ?? null,
      createdAt,
      seq: ++this.#seq,
    };
    this.#userEvents(apiKey, user, true)!.push(event);
    return event.id;
  }

  /**
   * Application errors travel as HTTP 200 with errno ≠ 0 (§1.2): by default the errno 500 that
   * `global_wrapper_middleware` sends for an unhandled exception; e.g. errno 503 is what blob
   * insert answers when the token quota is exhausted (§1.5).
   */
  appError(o: FaultOptions & { errno?: number; errmsg?: string } = {}): void {
    const errno = o.errno ?? 500;
    const errmsg = o.errmsg ?? UNKNOWN_ERROR;
    this.inject(o, () => ({ status: 200, json: { data: null, errno, errmsg } }));
  }

  /** Memobase has no rate limiter (§1.7): a 429 comes from whatever proxy fronts it, as plain text. */
  protected rateLimited(_req: FakeRequest, retryAfterSeconds: number): FakeResponse {
    return { status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, text: 'Too Many Requests' };
  }

  protected handle(req: FakeRequest): FakeResponse {
    // AuthMiddleware runs before routing for every /api path but the health check (§1.1).
    if (req.path.startsWith('/api') && !req.path.startsWith('/api/v1/healthcheck')) {
      const unauthorized = this.#authenticate(req);
      if (unauthorized) return unauthorized;
    }
    const apiKey = bearerToken(req.headers)!;
    let m = LIST_PATH.exec(req.path);
    if (m) return req.method === 'GET' ? this.#list(req, apiKey, m[1]!) : methodNotAllowed();
    m = DELETE_PATH.exec(req.path);
    if (m) return req.method === 'DELETE' ? this.#delete(apiKey, m[1]!, m[2]!) : methodNotAllowed();
    return { status: 404, json: { detail: 'Not Found' } };
  }

  /** `AuthMiddleware.dispatch`: HTTP 401 with the BaseResponse envelope (§1.1). */
  #authenticate(req: FakeRequest): FakeResponse | undefined {
    const header = req.headers.authorization;
    if (!header || !header.startsWith('Bearer ')) {
      return unauthorized(`Unauthorized access to ${req.path}. You have to provide a valid Bearer token.`);
    }
    const token = bearerToken(req.headers);
    if (!token || !this.#apiKeys.has(token)) {
      return unauthorized(`Unauthorized access to ${req.path}. CODE 401; ERROR Wrong secret key`);
    }
    return undefined;
  }

  /** GET /api/v1/users/event/{user_id}?topk= (§1.3). */
  #list(req: FakeRequest, apiKey: string, rawUserId: string): FakeResponse {
    const errors: ValidationErrorItem[] = [];
    const userId = validateUuid(rawUserId, 'user_id', errors);
    const topk = parseIntParam(req.query.get('topk'));
    if (topk === 'invalid') errors.push(intError('topk', req.query.get('topk')));
    // max_token_size is validated like the server does but not applied: the fake has no tokenizer.
    const maxTokens = parseIntParam(req.query.get('max_token_size'));
    if (maxTokens === 'invalid') errors.push(intError('max_token_size', req.query.get('max_token_size')));
    if (errors.length > 0 || !userId || topk === 'invalid') return { status: 422, json: { detail: errors } };

    const limit = topk ?? 10;
    // A negative LIMIT fails in the database: an unhandled error, which Memobase reports as HTTP 200 errno 500.
    if (limit < 0) return { status: 200, json: { data: null, errno: 500, errmsg: UNKNOWN_ERROR } };
    const since = Date.now() - RECENT_DAYS * 24 * 60 * 60 * 1000;
    const events = (this.#userEvents(apiKey, userId, false) ?? [])
      .filter((e) => e.createdAt.getTime() > since)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.seq - a.seq)
      .slice(0, limit)
      .map(toUserEventData);
    return { status: 200, json: { data: { events, gists: [] }, errno: 0, errmsg: '' } };
  }

  /** DELETE /api/v1/users/event/{user_id}/{event_id}: HTTP 200 either way, errno tells (§1.4). */
  #delete(apiKey: string, rawUserId: string, rawEventId: string): FakeResponse {
    const errors: ValidationErrorItem[] = [];
    const userId = validateUuid(rawUserId, 'user_id', errors);
    const eventId = validateUuid(rawEventId, 'event_id', errors);
    if (errors.length > 0 || !userId || !eventId) return { status: 422, json: { detail: errors } };

    const events = this.#userEvents(apiKey, userId, false);
    const index = events?.findIndex((e) => e.id === eventId) ?? -1;
    if (!events || index < 0) {
      return { status: 200, json: { data: null, errno: 404, errmsg: `User event ${eventId} not found` } };
    }
    events.splice(index, 1);
    return { status: 200, json: { data: null, errno: 0, errmsg: '' } };
  }

  #userEvents(apiKey: string, userId: string, create: boolean): StoredEvent[] | undefined {
    let project = this.#events.get(apiKey);
    if (!project && create) this.#events.set(apiKey, (project = new Map()));
    let events = project?.get(userId);
    if (!events && create) project!.set(userId, (events = []));
    return events;
  }
}

export async function startMemobaseFake(options: MemobaseFakeOptions): Promise<MemobaseFake> {
  return new MemobaseFake(options).listen();
}

// ---------------------------------------------------------------------------------------------

interface ValidationErrorItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
}

function unauthorized(errmsg: string): FakeResponse {
  return { status: 401, json: { data: null, errno: 401, errmsg } };
}

function methodNotAllowed(): FakeResponse {
  return { status: 405, json: { detail: 'Method Not Allowed' } };
}

function intError(name: string, input: unknown): ValidationErrorItem {
  return { type: 'int_parsing', loc: ['query', name], msg: 'Input should be a valid integer, unable to parse string as an integer', input };
}

/** Lower-case, hyphenated form of a UUID written with or without hyphens, as pydantic parses it. */
function normaliseUuid(value: string): string | undefined {
  if (!UUID_ANY.test(value)) return undefined;
  const hex = value.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function isV4orV5(uuid: string): boolean {
  return (uuid[14] === '4' || uuid[14] === '5') && /[89ab]/.test(uuid[19]!);
}

/**
 * Path ids are `UUID4 | UUID5` (models/response.py): anything else is FastAPI's 422
 * HTTPValidationError (§1.2). Item types follow pydantic (uuid_parsing / uuid_version); pydantic
 * reports a union once per member, the fake once per parameter.
 */
function validateUuid(value: string, name: string, errors: ValidationErrorItem[]): string | undefined {
  let decoded = value;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    // A malformed escape is just another string that is not a UUID.
  }
  const uuid = normaliseUuid(decoded);
  if (!uuid) {
    errors.push({ type: 'uuid_parsing', loc: ['path', name], msg: 'Input should be a valid UUID', input: value });
    return undefined;
  }
  if (!isV4orV5(uuid)) {
    errors.push({ type: 'uuid_version', loc: ['path', name], msg: 'UUID version 4 or 5 expected', input: value });
    return undefined;
  }
  return uuid;
}

/** `UserEventData` (§1.3): microsecond timestamps like Python's isoformat, similarity null in a plain list. */
function toUserEventData(e: StoredEvent) {
  const at = pythonIso(e.createdAt);
  return {
    id: e.id,
    event_data: { profile_delta: e.profileDelta, event_tip: e.eventTip, event_tags: e.eventTags },
    created_at: at,
    updated_at: at,
    similarity: null,
  };
}

function pythonIso(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
