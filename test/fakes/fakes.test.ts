import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startCortexFake, type CortexFake, type CortexFakeOptions } from './cortex.js';
import { startDatagridFake, type DatagridFake, type DatagridFakeOptions } from './datagrid.js';
import type { FakeServer } from './fake-server.js';
import { startMemobaseFake, type MemobaseFake } from './memobase.js';
import { startMieltoFake, type MieltoFake, type MieltoFakeOptions } from './mielto.js';

/** The fakes over real HTTP, as the gateway's client meets them. */

interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(url: string, init: RequestInit & { token?: string } = {}): Promise<Res> {
  const { token, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (typeof rest.body === 'string') headers.set('content-type', 'application/json');
  const response = await fetch(url, { ...rest, headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

const KEY_A = 'key-a-secret';
const KEY_B = 'key-b-secret';

const open: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});
async function track<T extends FakeServer>(fake: Promise<T>): Promise<T> {
  const started = await fake;
  open.push(started);
  return started;
}

// ---------------------------------------------------------------------------------------------
// What every fake shares: recording, key isolation and the fault switches, each driven through
// the provider's own list and delete.

interface Harness {
  fake: FakeServer;
  seed(key: string): string;
  list(key: string, init?: RequestInit): Promise<Res>;
  ids(res: Res): string[];
  del(key: string, id: string, init?: RequestInit): Promise<Res>;
  /** Whether a delete answer says the item was deleted, per the provider's success shape. */
  deleted(res: Res): boolean;
  /** Whether a delete answer is the provider's "no such item". */
  missing(res: Res): boolean;
  /** Checks the provider's own 429 body. */
  expectRateLimitBody(res: Res): void;
}

const providers: { name: string; start(): Promise<Harness> }[] = [
  {
    name: 'memobase',
    async start() {
      const fake = await track(startMemobaseFake({ apiKeys: [KEY_A, KEY_B] }));
      const user = randomUUID();
      const base = `${fake.url}/api/v1/users/event/${user}`;
      return {
        fake,
        seed: (key) => fake.seedEvent(key, user, { eventTip: 'tip' }),
        list: (key, init) => call(base, { ...init, token: key }),
        ids: (res) => res.json.data.events.map((e: any) => e.id),
        del: (key, id, init) => call(`${base}/${id}`, { ...init, method: 'DELETE', token: key }),
        deleted: (res) => res.status === 200 && res.json.errno === 0,
        missing: (res) => res.status === 200 && res.json.errno === 404,
        expectRateLimitBody: (res) => expect(res.text).toBe('Too Many Requests'),
      };
    },
  },
  {
    name: 'datagrid',
    async start() {
      const fake = await track(startDatagridFake({ apiKeys: [KEY_A, KEY_B] }));
      return {
        fake,
        seed: (key) => fake.seedMemory(key, { memory: 'remembered' }),
        list: (key, init) => call(`${fake.url}/user-memories`, { ...init, token: key }),
        ids: (res) => res.json.data.map((m: any) => m.id),
        del: (key, id, init) => call(`${fake.url}/user-memories/${id}`, { ...init, method: 'DELETE', token: key }),
        deleted: (res) => res.status === 204 && res.text === '',
        missing: (res) => res.status === 404,
        expectRateLimitBody: (res) => expect(res.json).toMatchObject({ status_code: 429, error: 'rate_limit_exceeded', retryable: true }),
      };
    },
  },
  {
    name: 'cortex',
    async start() {
      const fake = await track(startCortexFake({ apiKeys: [KEY_A, KEY_B] }));
      return {
        fake,
        seed: (key) => fake.seedMemory(key, { tenantId: 'tenant-1', content: 'remembered' }),
        list: (key, init) => call(`${fake.url}/user_memory/list_user_memories?tenant_id=tenant-1`, { ...init, token: key }),
        ids: (res) => res.json.user_memories.map((m: any) => m.memory_id),
        del: (key, id, init) =>
          call(`${fake.url}/user_memory/delete_user_memory?tenant_id=tenant-1&memory_id=${id}`, { ...init, method: 'DELETE', token: key }),
        deleted: (res) => res.status === 200 && res.json.user_memory_deleted === true,
        missing: (res) => res.status === 404 && res.json.detail.error_code === 'NOT_FOUND',
        expectRateLimitBody: (res) => expect(res.json.detail).toMatchObject({ success: false, error_code: 'RATE_LIMIT_EXCEEDED' }),
      };
    },
  },
  {
    name: 'mielto',
    async start() {
      const fake = await track(startMieltoFake({ apiKeys: [KEY_A, KEY_B] }));
      return {
        fake,
        seed: (key) => fake.seedMemory(key, { user_id: 'user-1', memory: 'remembered' }),
        list: (key, init) => call(`${fake.url}/api/v1/memories`, { ...init, token: key }),
        ids: (res) => res.json.memories.map((m: any) => m.memory_id),
        del: (key, id, init) => call(`${fake.url}/api/v1/memories/${id}`, { ...init, method: 'DELETE', token: key }),
        deleted: (res) => res.status === 200 && res.json.message === 'Memory deleted successfully',
        missing: (res) => res.status === 404,
        expectRateLimitBody: (res) => expect(res.json).toEqual({ detail: 'Too many requests' }),
      };
    },
  },
];

describe.each(providers)('$name fake: shared behaviour', ({ start }) => {
  it('records every request with method, path, query, lower-case headers and parsed body', async () => {
    const h = await start();
    await h.list(KEY_A, { headers: { 'X-Trace': 'abc' } });
    await call(`${h.fake.url}/anything?x=1`, { method: 'POST', body: '{"a":1}', token: KEY_A });
    await call(`${h.fake.url}/anything`, { method: 'POST', body: 'not json', token: KEY_A });
    expect(h.fake.requests).toHaveLength(3);
    const [list, json, text] = h.fake.requests;
    expect(list).toMatchObject({ method: 'GET', body: undefined });
    expect(list!.headers).toMatchObject({ 'x-trace': 'abc', authorization: `Bearer ${KEY_A}` });
    expect(json).toMatchObject({ method: 'POST', path: new URL(`${h.fake.url}/anything`).pathname, body: { a: 1 } });
    expect(json!.query.get('x')).toBe('1');
    expect(text!.body).toBe('not json');
  });

  it('keeps each API key its own account', async () => {
    const h = await start();
    const id = h.seed(KEY_A);
    expect(h.ids(await h.list(KEY_A))).toEqual([id]);
    expect(h.ids(await h.list(KEY_B))).toEqual([]);
    expect(h.missing(await h.del(KEY_B, id))).toBe(true);
    expect(h.ids(await h.list(KEY_A))).toEqual([id]);
  });

  it('deletes, then answers "not found" for the same id', async () => {
    const h = await start();
    const id = h.seed(KEY_A);
    expect(h.deleted(await h.del(KEY_A, id))).toBe(true);
    expect(h.ids(await h.list(KEY_A))).toEqual([]);
    expect(h.missing(await h.del(KEY_A, id))).toBe(true);
  });

  it('rateLimit answers 429 with Retry-After and the provider body, once by default', async () => {
    const h = await start();
    h.fake.rateLimit({ retryAfterSeconds: 7 });
    const limited = await h.list(KEY_A);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    h.expectRateLimitBody(limited);
    expect((await h.list(KEY_A)).status).toBe(200);
  });

  it('applies a fault `times` times, only to matching requests, before authentication', async () => {
    const h = await start();
    const id = h.seed(KEY_A);
    h.fake.rateLimit({ times: 2, match: /^DELETE / });
    expect((await h.list(KEY_A)).status).toBe(200);
    expect((await h.del('wrong-key', id)).status).toBe(429);
    expect((await h.del(KEY_A, id)).status).toBe(429);
    expect(h.ids(await h.list(KEY_A))).toEqual([id]);
    expect(h.deleted(await h.del(KEY_A, id))).toBe(true);
    expect(h.fake.requests.map((r) => r.method)).toEqual(['GET', 'DELETE', 'DELETE', 'GET', 'DELETE']);
  });

  it('serverError answers 500 by default or the status asked for, and changes nothing', async () => {
    const h = await start();
    const id = h.seed(KEY_A);
    h.fake.serverError({ match: /^DELETE / });
    const failed = await h.del(KEY_A, id);
    expect([failed.status, failed.text]).toEqual([500, 'Internal Server Error']);
    h.fake.serverError({ status: 503 });
    expect((await h.list(KEY_A)).status).toBe(503);
    expect(h.ids(await h.list(KEY_A))).toEqual([id]);
  });

  it('slow answers after the delay', async () => {
    const h = await start();
    h.fake.slow({ delayMs: 150 });
    const started = performance.now();
    const res = await h.list(KEY_A);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('slow applies the operation on arrival, even when the client gives up', async () => {
    const h = await start();
    const id = h.seed(KEY_A);
    h.fake.slow({ delayMs: 300 });
    await expect(h.del(KEY_A, id, { signal: AbortSignal.timeout(50) })).rejects.toThrow(/abort|timeout/i);
    expect(h.ids(await h.list(KEY_A))).toEqual([]);
  });

  it('dropConnection fails the call without applying it; afterProcessing applies it first', async () => {
    const h = await start();
    const [first, second] = [h.seed(KEY_A), h.seed(KEY_A)];
    h.fake.dropConnection();
    await expect(h.del(KEY_A, first)).rejects.toThrow(/fetch failed/);
    expect(h.ids(await h.list(KEY_A)).sort()).toEqual([first, second].sort());
    h.fake.dropConnection({ afterProcessing: true });
    await expect(h.del(KEY_A, first)).rejects.toThrow(/fetch failed/);
    expect(h.ids(await h.list(KEY_A))).toEqual([second]);
    // One request per call: the client library did not retry behind the test's back.
    expect(h.fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(2);
  });

  it('malformedJson answers 200 with a JSON content-type and a body that does not parse', async () => {
    const h = await start();
    const id = h.seed(KEY_A);
    h.fake.malformedJson({ match: /^DELETE / });
    const res = await h.del(KEY_A, id);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(() => JSON.parse(res.text)).toThrow();
    expect(h.ids(await h.list(KEY_A))).toEqual([id]);
  });

  it('resetFaults disarms everything', async () => {
    const h = await start();
    h.fake.rateLimit({ times: 5 });
    h.fake.serverError({ times: 5 });
    h.fake.resetFaults();
    expect((await h.list(KEY_A)).status).toBe(200);
  });

  it('close ends keep-alive and pending connections at once', async () => {
    const h = await start();
    expect((await h.list(KEY_A)).status).toBe(200); // leaves a keep-alive socket open
    h.fake.slow({ delayMs: 5_000 });
    const pending = h.list(KEY_A);
    // Wait until the slow request is in the fake, however busy the machine is.
    for (let i = 0; i < 300 && h.fake.requests.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(h.fake.requests).toHaveLength(2);
    const started = performance.now();
    await h.fake.close();
    expect(performance.now() - started).toBeLessThan(500);
    await expect(pending).rejects.toThrow(/fetch failed/);
    await expect(h.list(KEY_A)).rejects.toThrow(/fetch failed/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('memobase fake (README §1)', () => {
  let fake: MemobaseFake;
  const start = async () => (fake = await track(startMemobaseFake({ apiKeys: [KEY_A, KEY_B] })));
  const events = (user: string, query = '', token = KEY_A) => call(`${fake.url}/api/v1/users/event/${user}${query}`, { token });
  const del = (user: string, event: string, token = KEY_A) => call(`${fake.url}/api/v1/users/event/${user}/${event}`, { method: 'DELETE', token });

  it('serves the project URL the gateway appends /api/v1 to', async () => {
    await start();
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lists events in the UserEventData envelope, nullable parts null unless seeded', async () => {
    await start();
    const user = randomUUID();
    const id = fake.seedEvent(KEY_A, user, {
      eventTip: 'planning a trip',
      eventTags: [{ tag: 'emotion', value: 'excited' }],
      profileDelta: [{ content: 'likes Kyoto', attributes: { topic: 'travel', sub_topic: 'city' } }],
    });
    const bare = fake.seedEvent(KEY_A, user);
    const res = await events(user);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      data: {
        events: [
          {
            id: bare,
            event_data: { profile_delta: null, event_tip: null, event_tags: null },
            created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
            updated_at: expect.any(String),
            similarity: null,
          },
          {
            id,
            event_data: {
              profile_delta: [{ content: 'likes Kyoto', attributes: { topic: 'travel', sub_topic: 'city' } }],
              event_tip: 'planning a trip',
              event_tags: [{ tag: 'emotion', value: 'excited' }],
            },
            created_at: expect.any(String),
            updated_at: expect.any(String),
            similarity: null,
          },
        ],
        gists: [],
      },
      errno: 0,
      errmsg: '',
    });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const [newer, older] = res.json.data.events;
    expect(Date.parse(newer.created_at)).toBeGreaterThan(Date.parse(older.created_at));
  });

  it('returns the newest topk events (default 10) of the last 21 days only', async () => {
    await start();
    const user = randomUUID();
    const day = 24 * 60 * 60 * 1000;
    fake.seedEvent(KEY_A, user, { eventTip: 'too old', createdAt: new Date(Date.now() - 22 * day) });
    const recent = fake.seedEvent(KEY_A, user, { eventTip: 'recent', createdAt: new Date(Date.now() - 20 * day) });
    const ids = Array.from({ length: 11 }, () => fake.seedEvent(KEY_A, user));
    const newestFirst = [...ids].reverse();
    expect((await events(user)).json.data.events.map((e: any) => e.id)).toEqual(newestFirst.slice(0, 10));
    expect((await events(user, '?topk=3')).json.data.events.map((e: any) => e.id)).toEqual(newestFirst.slice(0, 3));
    expect((await events(user, '?topk=50')).json.data.events.map((e: any) => e.id)).toEqual([...newestFirst, recent]);
  });

  it('answers an unknown user with no events', async () => {
    await start();
    const user = randomUUID();
    fake.seedEvent(KEY_A, user);
    expect((await events(randomUUID())).json).toEqual({ data: { events: [], gists: [] }, errno: 0, errmsg: '' });
  });

  it('accepts UUIDs in upper case or without hyphens, as pydantic does', async () => {
    await start();
    const user = randomUUID();
    const id = fake.seedEvent(KEY_A, user);
    expect((await events(user.toUpperCase().replace(/-/g, ''))).json.data.events.map((e: any) => e.id)).toEqual([id]);
  });

  it('deletes with HTTP 200 errno 0, and answers a missing event with HTTP 200 errno 404', async () => {
    await start();
    const user = randomUUID();
    const id = fake.seedEvent(KEY_A, user);
    expect((await del(randomUUID(), id)).json).toEqual({ data: null, errno: 404, errmsg: `User event ${id} not found` });
    const done = await del(user, id);
    expect([done.status, done.json]).toEqual([200, { data: null, errno: 0, errmsg: '' }]);
    const again = await del(user, id);
    expect([again.status, again.json]).toEqual([200, { data: null, errno: 404, errmsg: `User event ${id} not found` }]);
  });

  it('answers ids that are not UUID v4/v5 and non-integer topk with a 422 HTTPValidationError', async () => {
    await start();
    const user = randomUUID();
    const bad = await events('not-a-uuid');
    expect(bad.status).toBe(422);
    expect(bad.json.detail).toEqual([{ type: 'uuid_parsing', loc: ['path', 'user_id'], msg: 'Input should be a valid UUID', input: 'not-a-uuid' }]);
    const v1 = await del(user, '6ba7b810-9dad-11d1-80b4-00c04fd430c8');
    expect(v1.status).toBe(422);
    expect(v1.json.detail).toMatchObject([{ type: 'uuid_version', loc: ['path', 'event_id'] }]);
    const topk = await events(user, '?topk=many');
    expect(topk.status).toBe(422);
    expect(topk.json.detail).toMatchObject([{ type: 'int_parsing', loc: ['query', 'topk'] }]);
  });

  it('answers bad auth with HTTP 401 and the BaseResponse envelope', async () => {
    await start();
    const user = randomUUID();
    const path = `/api/v1/users/event/${user}`;
    for (const headers of [{}, { authorization: `Token ${KEY_A}` }] as Record<string, string>[]) {
      const res = await call(`${fake.url}${path}`, { headers });
      expect([res.status, res.json]).toEqual([
        401,
        { data: null, errno: 401, errmsg: `Unauthorized access to ${path}. You have to provide a valid Bearer token.` },
      ]);
    }
    const wrong = await events(user, '', 'wrong');
    expect([wrong.status, wrong.json]).toEqual([401, { data: null, errno: 401, errmsg: `Unauthorized access to ${path}. CODE 401; ERROR Wrong secret key` }]);
  });

  it('appError answers HTTP 200 with errno ≠ 0 (the unhandled-exception envelope by default)', async () => {
    await start();
    const user = randomUUID();
    fake.appError();
    const res = await events(user);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ data: null, errno: 500, errmsg: expect.stringContaining('Sorry, we have encountered an unknown error') });
    fake.appError({ errno: 503, errmsg: 'quota exceeded' });
    expect((await events(user)).json).toEqual({ data: null, errno: 503, errmsg: 'quota exceeded' });
    expect((await events(user)).json.errno).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('datagrid fake (README §2)', () => {
  let fake: DatagridFake;
  const start = async (o: Partial<DatagridFakeOptions> = {}) => (fake = await track(startDatagridFake({ apiKeys: [KEY_A, KEY_B], ...o })));
  const list = (query = '', init: RequestInit & { token?: string } = {}) => call(`${fake.url}/user-memories${query}`, { token: KEY_A, ...init });
  const create = (body: unknown, init: RequestInit = {}) =>
    call(`${fake.url}/user-memories`, { method: 'POST', body: JSON.stringify(body), token: KEY_A, ...init });
  const del = (id: string, init: RequestInit = {}) => call(`${fake.url}/user-memories/${id}`, { method: 'DELETE', token: KEY_A, ...init });

  it('serves under /v1, like the default DATAGRID_URL', async () => {
    await start();
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it('lists UserMemory objects newest first, memory and context as arrays', async () => {
    await start();
    const older = fake.seedMemory(KEY_A, { memory: 'metric units', user_id: 'user_42', agent_id: 'agent_7', user_prompt: 'use metric', context: ['hiking'] });
    const newer = fake.seedMemory(KEY_A, { memory: ['a', 'b'] });
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      object: 'list',
      data: [
        {
          object: 'user_memory',
          id: newer,
          updated_at: expect.any(String),
          created_at: expect.any(String),
          user_prompt: '',
          context: [],
          agent_id: 'agent_default',
          user_id: fake.userIdOf(KEY_A),
          memory: ['a', 'b'],
        },
        {
          object: 'user_memory',
          id: older,
          updated_at: expect.any(String),
          created_at: expect.any(String),
          user_prompt: 'use metric',
          context: ['hiking'],
          agent_id: 'agent_7',
          user_id: 'user_42',
          memory: ['metric units'],
        },
      ],
      has_more: false,
    });
    expect(fake.userIdOf(KEY_A)).not.toContain(KEY_A);
  });

  it('pages with limit (default 20) and offset, has_more false on the last page', async () => {
    await start();
    const ids = Array.from({ length: 25 }, (_, i) => fake.seedMemory(KEY_A, { memory: `m${i}` })).reverse();
    const first = await list();
    expect(first.json.data.map((m: any) => m.id)).toEqual(ids.slice(0, 20));
    expect(first.json.has_more).toBe(true);
    const rest = await list('?limit=20&offset=20');
    expect([rest.json.data.map((m: any) => m.id), rest.json.has_more]).toEqual([ids.slice(20), false]);
    expect((await list('?limit=5&offset=20')).json.has_more).toBe(false);
    expect((await list('?limit=5&offset=15')).json.has_more).toBe(true);
  });

  it('answers limit outside 1..100 or offset outside 0..100000 with 422', async () => {
    await start();
    for (const query of ['?limit=0', '?limit=101', '?limit=ten', '?offset=-1', '?offset=100001']) {
      const res = await list(query);
      expect([query, res.status, res.json.status_code]).toEqual([query, 422, 422]);
    }
    expect((await list('?limit=100&offset=100000')).status).toBe(200);
  });

  it('creates with 201, the UserMemory plus credits, and lists it first', async () => {
    await start();
    fake.seedMemory(KEY_A, { memory: 'old' });
    const res = await create({ agent_id: 'agent_7', memory: 'likes tea', user_prompt: 'remember tea', context: 'chat' });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      object: 'user_memory',
      id: expect.stringMatching(/^umem_/),
      updated_at: expect.any(String),
      created_at: expect.any(String),
      user_prompt: 'remember tea',
      context: ['chat'],
      agent_id: 'agent_7',
      user_id: fake.userIdOf(KEY_A),
      memory: ['likes tea'],
      credits: { consumed: 1 },
    });
    expect((await list()).json.data[0].id).toBe(res.json.id);
    expect((await create({ agent_id: 'a', memory: 'm', user_prompt: null, context: null })).json).toMatchObject({ user_prompt: '', context: [] });
  });

  it('refuses a create without agent_id or memory with 422', async () => {
    await start();
    for (const body of [{ memory: 'm' }, { agent_id: 'a' }, { agent_id: 'a', memory: ['m'] }]) {
      expect((await create(body)).status).toBe(422);
    }
    expect((await call(`${fake.url}/user-memories`, { method: 'POST', body: '{', token: KEY_A })).status).toBe(422);
    expect((await list()).json.data).toEqual([]);
  });

  it('reports credits null when asked to (billing write failed)', async () => {
    await start({ creditsConsumed: null });
    expect((await create({ agent_id: 'a', memory: 'm' })).json.credits).toBeNull();
  });

  it('deletes with 204 and no body; an unknown id is a JSON 404', async () => {
    await start();
    const id = fake.seedMemory(KEY_A, { memory: 'm' });
    const done = await del(id);
    expect([done.status, done.text, done.headers.get('content-type')]).toEqual([204, '', null]);
    const again = await del(id);
    expect(again.status).toBe(404);
    expect(again.json).toMatchObject({ status_code: 404, error: 'not_found' });
  });

  it('scopes data by the Datagrid-Teamspace header when it is sent', async () => {
    await start();
    const inSpace = fake.seedMemory(KEY_A, { memory: 'm', teamspace: 'ts-1' });
    const teamspace = { headers: { 'Datagrid-Teamspace': 'ts-1' } };
    expect((await list()).json.data).toEqual([]);
    expect((await list('', teamspace)).json.data.map((m: any) => m.id)).toEqual([inSpace]);
    expect((await del(inSpace)).status).toBe(404);
    expect((await del(inSpace, teamspace)).status).toBe(204);
  });

  it('answers a missing or wrong key with 401', async () => {
    await start();
    expect((await list('', { token: '' })).status).toBe(401);
    const wrong = await list('', { token: 'nope' });
    expect([wrong.status, wrong.json.status_code]).toEqual([401, 401]);
  });

  it('sends X-RateLimit-* on every response, counted per route and method', async () => {
    await start();
    const first = await list();
    expect(first.headers.get('x-ratelimit-limit')).toBe('200');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('199');
    expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    expect(first.headers.get('retry-after')).toBeNull();
    expect((await list()).headers.get('x-ratelimit-remaining')).toBe('198');
    expect((await del('umem_missing')).headers.get('x-ratelimit-remaining')).toBe('199');
    expect((await del('umem_other')).headers.get('x-ratelimit-remaining')).toBe('198');
    fake.malformedJson();
    expect((await list()).headers.get('x-ratelimit-remaining')).toBe('198');
    expect((await list('', { token: 'nope' })).headers.get('x-ratelimit-limit')).toBe('200');
  });

  it('enforces its window: Retry-After once nothing remains, then the documented 429', async () => {
    await start({ rateLimitPolicy: { limit: 2, windowSeconds: 60 } });
    expect((await list()).headers.get('retry-after')).toBeNull();
    const last = await list();
    expect([last.status, last.headers.get('x-ratelimit-remaining'), last.headers.get('retry-after')]).toEqual([200, '0', '60']);
    const limited = await list();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.json).toEqual({
      status_code: 429,
      statusCode: 429,
      error: 'rate_limit_exceeded',
      message: 'Rate limit exceeded',
      mitigation: 'Implement exponential backoff and retry with delays',
      retryable: true,
      details: { reason: 'Rate limit exceeded. Please retry after the current window resets.' },
    });
    expect((await create({ agent_id: 'a', memory: 'm' })).status).toBe(201); // another method, another budget
    expect((await list('', { headers: { 'Datagrid-Teamspace': 'ts-2' } })).status).toBe(200); // another teamspace
  });

  it('rateLimit sends the documented headers with Remaining 0', async () => {
    await start();
    fake.rateLimit({ retryAfterSeconds: 3 });
    const res = await list();
    expect(res.status).toBe(429);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(res.headers.get('x-ratelimit-limit')).toBe('200');
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('cortex fake (README §3)', () => {
  let fake: CortexFake;
  const start = async (o: Partial<CortexFakeOptions> = {}) => (fake = await track(startCortexFake({ apiKeys: [KEY_A, KEY_B], ...o })));
  const get = (path: string, token = KEY_A) => call(`${fake.url}${path}`, { token });
  const listData = (body: unknown) => call(`${fake.url}/list/data`, { method: 'POST', body: JSON.stringify(body), token: KEY_A });
  const del = (path: string) => call(`${fake.url}${path}`, { method: 'DELETE', token: KEY_A });

  it('lists every memory of the tenant newest first (insertion order), on both path generations', async () => {
    await start();
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const a = fake.seedMemory(KEY_A, { tenantId: 't1', content: 'dark mode' });
    const b = fake.seedMemory(KEY_A, { tenantId: 't1', content: 'Pacific timezone' });
    const expected = {
      success: true,
      user_memories: [
        { memory_id: b, memory_content: 'Pacific timezone' },
        { memory_id: a, memory_content: 'dark mode' },
      ],
    };
    const docs = await get('/user_memory/list_user_memories?tenant_id=t1');
    expect([docs.status, docs.json]).toEqual([200, expected]);
    const v2 = await listData({ tenant_id: 't1', kind: 'memories' });
    expect([v2.status, v2.json]).toEqual([200, expected]);
    expect((await listData({ tenant_id: 't1', kind: 'memories', source_ids: [a] })).json.user_memories).toEqual([expected.user_memories[1]]);
    expect((await get('/user_memory/list_user_memories?tenant_id=unknown')).json).toEqual({ success: true, user_memories: [] });
  });

  it('uses source_id/source_content when asked to', async () => {
    await start({ itemKeys: 'source' });
    const id = fake.seedMemory(KEY_A, { tenantId: 't1', content: 'c' });
    expect((await get('/user_memory/list_user_memories?tenant_id=t1')).json.user_memories).toEqual([{ source_id: id, source_content: 'c' }]);
  });

  it('scopes by sub-tenant, the default one when none is given', async () => {
    await start();
    const inDefault = fake.seedMemory(KEY_A, { tenantId: 't1', content: 'default' });
    const inSub = fake.seedMemory(KEY_A, { tenantId: 't1', subTenantId: 's1', content: 'sub' });
    const ids = (res: Res) => res.json.user_memories.map((m: any) => m.memory_id);
    expect(ids(await get('/user_memory/list_user_memories?tenant_id=t1'))).toEqual([inDefault]);
    expect(ids(await get('/user_memory/list_user_memories?tenant_id=t1&sub_tenant_id=s1'))).toEqual([inSub]);
    expect(ids(await listData({ tenant_id: 't1', sub_tenant_id: 's1', kind: 'memories' }))).toEqual([inSub]);
    expect((await del(`/user_memory/delete_user_memory?tenant_id=t1&memory_id=${inSub}`)).status).toBe(404);
    expect((await del(`/memories/delete_memory?tenant_id=t1&memory_id=${inSub}&sub_tenant_id=s1`)).json).toEqual({ success: true, user_memory_deleted: true });
  });

  it('deletes on both generations; a missing memory is 404 NOT_FOUND', async () => {
    await start();
    const a = fake.seedMemory(KEY_A, { tenantId: 't1', content: 'a' });
    const b = fake.seedMemory(KEY_A, { tenantId: 't1', content: 'b' });
    const docs = await del(`/user_memory/delete_user_memory?tenant_id=t1&memory_id=${a}`);
    expect([docs.status, docs.json]).toEqual([200, { success: true, user_memory_deleted: true }]);
    const v2 = await del(`/memories/delete_memory?tenant_id=t1&memory_id=${b}`);
    expect([v2.status, v2.json]).toEqual([200, { success: true, user_memory_deleted: true }]);
    const missing = await del(`/memories/delete_memory?tenant_id=t1&memory_id=${b}`);
    expect([missing.status, missing.json]).toEqual([404, { detail: { success: false, message: 'User memory not found', error_code: 'NOT_FOUND' } }]);
  });

  it('can answer a missing memory with user_memory_deleted: false instead', async () => {
    await start({ missingDelete: 'not-deleted' });
    const res = await del('/user_memory/delete_user_memory?tenant_id=t1&memory_id=nope');
    expect([res.status, res.json]).toEqual([200, { success: true, user_memory_deleted: false }]);
  });

  it('answers missing parameters with 400 INVALID_PARAMETERS', async () => {
    await start();
    for (const res of [
      await get('/user_memory/list_user_memories'),
      await get('/user_memory/list_user_memories?sub_tenant_id=s1'),
      await del('/user_memory/delete_user_memory?memory_id=x'),
      await del('/memories/delete_memory?tenant_id=t1'),
      await listData({ kind: 'memories' }),
      await listData({ tenant_id: 't1' }),
    ]) {
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ detail: { success: false, message: expect.any(String), error_code: 'INVALID_PARAMETERS' } });
    }
  });

  it('serves only the path generation asked for', async () => {
    await start({ paths: 'docs' });
    expect((await listData({ tenant_id: 't1', kind: 'memories' })).status).toBe(404);
    expect((await del('/memories/delete_memory?tenant_id=t1&memory_id=x')).status).toBe(404);
    await start({ paths: 'v2' });
    expect((await get('/user_memory/list_user_memories?tenant_id=t1')).status).toBe(404);
    expect((await listData({ tenant_id: 't1', kind: 'memories' })).status).toBe(200);
  });

  it('answers a missing or wrong key with 401 UNAUTHORIZED', async () => {
    await start();
    for (const token of ['', 'nope']) {
      const res = await get('/user_memory/list_user_memories?tenant_id=t1', token);
      expect(res.status).toBe(401);
      expect(res.json.detail).toMatchObject({ success: false, error_code: 'UNAUTHORIZED' });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('mielto fake (README §4)', () => {
  let fake: MieltoFake;
  const start = async (o: Partial<MieltoFakeOptions> = {}) => (fake = await track(startMieltoFake({ apiKeys: [KEY_A, KEY_B], ...o })));
  const list = (query = '', init: RequestInit & { token?: string } = {}) => call(`${fake.url}/api/v1/memories${query}`, { token: KEY_A, ...init });
  const ids = (res: Res) => res.json.memories.map((m: any) => m.memory_id);
  const create = (body: unknown) => call(`${fake.url}/api/v1/memories`, { method: 'POST', body: JSON.stringify(body), token: KEY_A });
  const one = (id: string, query = '') => call(`${fake.url}/api/v1/memories/${id}${query}`, { token: KEY_A });
  const del = (id: string, query = '', init: RequestInit = {}) => call(`${fake.url}/api/v1/memories/${id}${query}`, { method: 'DELETE', token: KEY_A, ...init });

  it('lists MemoryResponse objects newest first (updated_at desc)', async () => {
    await start();
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const older = fake.seedMemory(KEY_A, { user_id: 'u1', memory: 'window seats', topics: ['travel'], metadata: { source: 'chat' } });
    const newer = fake.seedMemory(KEY_A, { user_id: 'u2', memory: 'tea' });
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      memories: [
        { memory_id: newer, user_id: 'u2', memory: 'tea', topics: null, created_at: expect.any(String), updated_at: expect.any(String), metadata: null },
        { memory_id: older, user_id: 'u1', memory: 'window seats', topics: ['travel'], created_at: expect.any(String), updated_at: expect.any(String), metadata: { source: 'chat' } },
      ],
      total_count: 2,
      next_cursor: null,
      has_more: false,
    });
    expect(ids(await list('?user_id=u1'))).toEqual([older]);
  });

  it('pages by cursor (the last id of a page), default limit 50, total_count counting the page', async () => {
    await start();
    const all = Array.from({ length: 55 }, (_, i) => fake.seedMemory(KEY_A, { user_id: 'u', memory: `m${i}` })).reverse();
    const first = await list();
    expect([ids(first), first.json.total_count, first.json.has_more, first.json.next_cursor]).toEqual([all.slice(0, 50), 50, true, all[49]]);
    const second = await list(`?cursor=${first.json.next_cursor}`);
    expect([ids(second), second.json.total_count, second.json.has_more, second.json.next_cursor]).toEqual([all.slice(50), 5, false, null]);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Res = await list(`?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      walked.push(...ids(page));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(walked).toEqual(all);
  });

  it('sorts by sort_by and sort_order', async () => {
    await start();
    const a = fake.seedMemory(KEY_A, { user_id: 'u', memory: 'a', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-03-01T00:00:00Z' });
    const b = fake.seedMemory(KEY_A, { user_id: 'u', memory: 'b', created_at: '2026-02-01T00:00:00Z', updated_at: '2026-02-01T00:00:00Z' });
    expect(ids(await list())).toEqual([a, b]);
    expect(ids(await list('?sort_by=created_at'))).toEqual([b, a]);
    expect(ids(await list('?sort_by=created_at&sort_order=asc'))).toEqual([a, b]);
    expect(ids(await list('?sort_by=memory_id&sort_order=asc'))).toEqual([a, b].sort());
  });

  it('keeps a cursor usable after the memory it names is deleted', async () => {
    await start();
    const all = Array.from({ length: 4 }, (_, i) => fake.seedMemory(KEY_A, { user_id: 'u', memory: `m${i}` })).reverse();
    const first = await list('?limit=2');
    expect((await del(first.json.next_cursor)).status).toBe(200);
    expect(ids(await list(`?limit=2&cursor=${first.json.next_cursor}`))).toEqual(all.slice(2));
  });

  it('answers bad list parameters with a 422 HTTPValidationError', async () => {
    await start();
    for (const [query, loc] of [
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?limit=x', 'limit'],
      ['?sort_order=up', 'sort_order'],
      ['?sort_by=colour', 'sort_by'],
      ['?cursor=mem_unknown', 'cursor'],
    ] as const) {
      const res = await list(query);
      expect([query, res.status]).toEqual([query, 422]);
      expect(res.json.detail).toMatchObject([{ loc: ['query', loc] }]);
    }
    expect((await list('?limit=100')).status).toBe(200);
  });

  it('uses the SDK key `data` for the list when asked to', async () => {
    await start({ listKey: 'data' });
    const id = fake.seedMemory(KEY_A, { user_id: 'u', memory: 'm' });
    const res = await list();
    expect(res.json.data.map((m: any) => m.memory_id)).toEqual([id]);
    expect(res.json.memories).toBeUndefined();
  });

  it('accepts the key as Bearer or X-API-Key and answers bad keys with 401 {detail}', async () => {
    await start();
    fake.seedMemory(KEY_A, { user_id: 'u', memory: 'm' });
    expect(ids(await list('', { token: '', headers: { 'X-API-Key': KEY_A } }))).toHaveLength(1);
    expect((await list('', { token: '' })).json).toEqual({ detail: 'Not authenticated' });
    const wrong = await list('', { token: '', headers: { 'X-API-Key': 'nope' } });
    expect([wrong.status, wrong.json]).toEqual([401, { detail: 'Invalid API key' }]);
    expect((await list('', { token: 'nope' })).status).toBe(401);
  });

  it('scopes data by X-Workspace-Id when it is sent', async () => {
    await start();
    const id = fake.seedMemory(KEY_A, { user_id: 'u', memory: 'm', workspaceId: 'ws-1' });
    const workspace = { headers: { 'X-Workspace-Id': 'ws-1' } };
    expect(ids(await list())).toEqual([]);
    expect(ids(await list('', workspace))).toEqual([id]);
    expect((await del(id)).status).toBe(404);
    expect((await del(id, '', workspace)).status).toBe(200);
  });

  it('creates with 200 {memory_id, message, memory} and reads one back flat', async () => {
    await start();
    const res = await create({ user_id: 'u', memory: 'likes tea', topics: ['food'], metadata: { a: 1 }, memory_type: 'user' });
    expect(res.status).toBe(200);
    const memory = { memory_id: res.json.memory_id, user_id: 'u', memory: 'likes tea', topics: ['food'], created_at: expect.any(String), updated_at: expect.any(String), metadata: { a: 1 } };
    expect(res.json).toEqual({ memory_id: expect.stringMatching(/^mem_/), message: 'Memory created successfully', memory });
    const got = await one(res.json.memory_id);
    expect([got.status, got.json]).toEqual([200, memory]);
    expect((await one(res.json.memory_id, '?user_id=someone-else')).status).toBe(404);
    expect((await one('mem_missing')).json).toEqual({ detail: 'Memory not found' });
  });

  it('refuses a create without user_id or memory with 422 and stores nothing', async () => {
    await start();
    const res = await create({ memory: 'm' });
    expect(res.status).toBe(422);
    expect(res.json.detail).toEqual([{ type: 'missing', loc: ['body', 'user_id'], msg: 'Field required', input: { memory: 'm' } }]);
    expect((await create({ user_id: 'u', memory: 5 })).status).toBe(422);
    expect((await create({ user_id: 'u', memory: 'm', topics: 'x' })).status).toBe(422);
    expect((await list()).json.memories).toEqual([]);
  });

  it("deletes with 200 {memory_id, message}; a user_id that is not the owner's is a 404", async () => {
    await start();
    const id = fake.seedMemory(KEY_A, { user_id: 'owner', memory: 'm' });
    const notOwner = await del(id, '?user_id=intruder');
    expect([notOwner.status, notOwner.json]).toEqual([404, { detail: 'Memory not found' }]);
    const done = await del(id, '?user_id=owner');
    expect([done.status, done.json]).toEqual([200, { memory_id: id, message: 'Memory deleted successfully' }]);
    expect((await del(id)).status).toBe(404);
  });

  it('can answer a delete with 204 and no body', async () => {
    await start({ deleteStatus: 204 });
    const id = fake.seedMemory(KEY_A, { user_id: 'u', memory: 'm' });
    const res = await del(id);
    expect([res.status, res.text]).toEqual([204, '']);
    expect(ids(await list())).toEqual([]);
  });
});
