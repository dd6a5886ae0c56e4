import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { setTenant } from '../../src/tenants.js';
import { TEST_GATEWAY_SECRET } from '../contract/provider-harness.js';
import type { FakeRequest, FakeResponse } from '../fakes/fake-server.js';
import { MieltoFake, type MieltoFakeOptions } from '../fakes/mielto.js';
import { dataOf, errorOf, startGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { abortableRequest, timed, waitUntil, watchUpstreamErrors } from '../helpers/upstream.js';

const KEY_A = 'mielto-secret-key-tenant-a';
const KEY_B = 'mielto-secret-key-tenant-b';

const LIST = /* GraphQL */ `
  query List($first: Int, $after: String, $userId: String, $workspaceId: String) {
    memories(first: $first, after: $after, userId: $userId, workspaceId: $workspaceId) {
      edges { cursor node { id userId memory topics metadata createdAt updatedAt backend } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const CREATE = /* GraphQL */ `
  mutation Create($input: CreateMemoryInput!, $workspaceId: String) {
    createMemory(input: $input, workspaceId: $workspaceId) { id userId memory topics metadata createdAt backend }
  }
`;
const DELETE = /* GraphQL */ `
  mutation Delete($id: ID!, $userId: String, $workspaceId: String) {
    deleteMemory(memoryId: $id, userId: $userId, workspaceId: $workspaceId) { memoryId message backend }
  }
`;
const AUDIT = /* GraphQL */ `{ deletionAudit { edges { node { operation backend targetId userId outcome } } } }`;

interface Setup {
  fake: MieltoFake;
  gateway: TestGateway;
  tokenA: string;
  tokenB: string;
  user: string;
  /** Seeds memories for tenant A's key, oldest first; returns their ids. */
  seed(n: number, extra?: { userId?: string; workspaceId?: string }): string[];
  list(vars?: Record<string, unknown>, token?: string): Promise<GraphQLResponse>;
  del(id: string, vars?: Record<string, unknown>): Promise<GraphQLResponse>;
  /** Requests the fake received, as `METHOD /path?query`. */
  lines(): string[];
}

let open: Setup | undefined;
afterEach(async () => {
  await open?.gateway.close();
  await open?.fake.close();
  open = undefined;
});

/** A fake plus a gateway whose tenants A and B are routed to it with their own keys. */
async function setup(
  options: { env?: Record<string, string>; fake?: Partial<MieltoFakeOptions>; settingsA?: Record<string, string>; fakeClass?: typeof MieltoFake } = {},
): Promise<Setup> {
  const Fake = options.fakeClass ?? MieltoFake;
  const fake = await new Fake({ apiKeys: [KEY_A, KEY_B], ...options.fake }).listen();
  const gateway = await startGateway({ GATEWAY_SECRET: TEST_GATEWAY_SECRET, MIELTO_URL: fake.url, ...options.env });
  await setTenant(gateway.app.prisma, gateway.config, 'tenant-a', { memories: 'mielto', settings: { 'mielto.apiKey': KEY_A, ...options.settingsA } });
  await setTenant(gateway.app.prisma, gateway.config, 'tenant-b', { memories: 'mielto', settings: { 'mielto.apiKey': KEY_B } });
  const tokenA = await gateway.createKey('tenant-a');
  const tokenB = await gateway.createKey('tenant-b');
  const user = `user-${randomUUID()}`;
  open = {
    fake,
    gateway,
    tokenA,
    tokenB,
    user,
    seed: (n, extra = {}) =>
      Array.from({ length: n }, (_, i) =>
        fake.seedMemory(KEY_A, { user_id: extra.userId ?? user, memory: `remembered ${i}`, topics: ['t'], workspaceId: extra.workspaceId }),
      ),
    list: (vars = {}, token = tokenA) => gateway.execute(LIST, { first: 10, userId: user, ...vars }, { token }),
    del: (id, vars = {}) => gateway.execute(DELETE, { id, userId: user, ...vars }, { token: tokenA }),
    lines: () => fake.requests.map((r) => `${r.method} ${r.path}${r.query.size ? `?${r.query}` : ''}`),
  };
  return open;
}

const ids = (res: GraphQLResponse) => (dataOf(res) as any).memories.edges.map((e: any) => e.node.id) as string[];
describe('mielto adapter: what the gateway sends', () => {
  it('lists with user_id, limit and creation order, Bearer auth and no workspace header by default', async () => {
    const s = await setup();
    const [id0, id1, id2] = s.seed(3);
    const page = dataOf(await s.list({ first: 2 })) as any;
    expect(page.memories.edges.map((e: any) => e.node.id)).toEqual([id2, id1]);
    expect(page.memories.pageInfo.hasNextPage).toBe(true);
    expect(page.memories.edges[0].node).toMatchObject({ userId: s.user, memory: 'remembered 2', topics: ['t'], metadata: null, backend: 'MIELTO' });

    const next = dataOf(await s.list({ first: 2, after: page.memories.pageInfo.endCursor })) as any;
    expect(next.memories.edges.map((e: any) => e.node.id)).toEqual([id0]);
    expect(next.memories.pageInfo.hasNextPage).toBe(false);

    // One upstream call per page; the second resumes from Mielto's next_cursor (the last id, §4.2).
    expect(s.lines()).toEqual([
      `GET /api/v1/memories?user_id=${s.user}&limit=2&sort_by=created_at&sort_order=desc`,
      `GET /api/v1/memories?user_id=${s.user}&cursor=${id1}&limit=2&sort_by=created_at&sort_order=desc`,
    ]);
    const headers = s.fake.requests[0]!.headers;
    expect(headers.authorization).toBe(`Bearer ${KEY_A}`);
    expect(headers.accept).toBe('application/json');
    expect(headers['x-workspace-id']).toBeUndefined();
  });

  it('omits user_id when the caller lists the whole tenant', async () => {
    const s = await setup();
    s.seed(1);
    s.seed(1, { userId: 'other-user' });
    expect(ids(await s.gateway.execute(LIST, { first: 5 }, { token: s.tokenA }))).toHaveLength(2);
    expect(s.lines()).toEqual(['GET /api/v1/memories?limit=5&sort_by=created_at&sort_order=desc']);
  });

  it("sends X-Workspace-Id from the argument when it names one of the tenant's workspaces, else the tenant setting", async () => {
    const s = await setup({ settingsA: { 'mielto.workspaceId': 'ws-default', 'mielto.workspaces': 'ws-other' } });
    const [inDefault] = s.seed(1, { workspaceId: 'ws-default' });
    const [inOther] = s.seed(1, { workspaceId: 'ws-other' });
    expect(ids(await s.list())).toEqual([inDefault]);
    expect(ids(await s.list({ workspaceId: 'ws-other' }))).toEqual([inOther]);
    dataOf(await s.del(inOther!, { workspaceId: 'ws-other' }));
    dataOf(await s.gateway.execute(CREATE, { input: { userId: s.user, memory: 'm' } }, { token: s.tokenA }));
    // The delete reads the memory first (the owner check), then deletes it.
    expect(s.fake.requests.map((r) => r.headers['x-workspace-id'])).toEqual(['ws-default', 'ws-other', 'ws-other', 'ws-other', 'ws-default']);
  });

  it('refuses a workspace the tenant does not list with FORBIDDEN, before any call', async () => {
    const s = await setup({ settingsA: { 'mielto.workspaceId': 'ws-default' } });
    s.seed(1, { workspaceId: 'ws-elsewhere' });
    for (const res of [
      await s.list({ workspaceId: 'ws-elsewhere' }),
      await s.del('mem_x', { workspaceId: 'ws-elsewhere' }),
      await s.gateway.execute(CREATE, { input: { userId: s.user, memory: 'm' }, workspaceId: 'ws-elsewhere' }, { token: s.tokenA }),
    ]) {
      expect(errorOf(res).extensions).toEqual({ code: 'FORBIDDEN' });
      expect(errorOf(res).message).toContain('ws-elsewhere');
    }
    expect(s.fake.requests).toEqual([]);
  });

  it("sends MIELTO_WORKSPACE_ID with the environment's key only, never with a tenant's own key", async () => {
    const fake = await new MieltoFake({ apiKeys: [KEY_A, KEY_B] }).listen();
    const gateway = await startGateway({
      GATEWAY_SECRET: TEST_GATEWAY_SECRET,
      MEMORIES_BACKEND: 'mielto',
      MIELTO_URL: fake.url,
      MIELTO_API_KEY: KEY_A,
      MIELTO_WORKSPACE_ID: 'ws-env',
    });
    open = { fake, gateway } as Setup;
    await setTenant(gateway.app.prisma, gateway.config, 'own-key', { settings: { 'mielto.apiKey': KEY_B } });
    dataOf(await gateway.execute(LIST, { first: 1 }, { token: await gateway.createKey('on-env') }));
    dataOf(await gateway.execute(LIST, { first: 1 }, { token: await gateway.createKey('own-key') }));
    expect(fake.requests.map((r) => [r.headers.authorization, r.headers['x-workspace-id']])).toEqual([
      [`Bearer ${KEY_A}`, 'ws-env'],
      [`Bearer ${KEY_B}`, undefined],
    ]);
  });

  it('creates with POST {user_id, memory, topics, metadata} and maps the returned memory', async () => {
    const s = await setup();
    const input = { userId: s.user, memory: 'allergic to peanuts', topics: ['health'], metadata: { source: 'chat' } };
    const created = (dataOf(await s.gateway.execute(CREATE, { input }, { token: s.tokenA })) as any).createMemory;
    expect(created).toMatchObject({ userId: s.user, memory: 'allergic to peanuts', topics: ['health'], metadata: { source: 'chat' }, backend: 'MIELTO' });
    expect(created.id).toMatch(/^mem_/);
    expect(Date.parse(created.createdAt)).not.toBeNaN();
    const [req] = s.fake.requests;
    expect(`${req!.method} ${req!.path}`).toBe('POST /api/v1/memories');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.body).toEqual({ user_id: s.user, memory: 'allergic to peanuts', topics: ['health'], metadata: { source: 'chat' } });
  });

  it('deletes with DELETE /memories/{id}?user_id= and returns Mielto\'s message', async () => {
    const s = await setup();
    const [id] = s.seed(1);
    expect((dataOf(await s.del(id!)) as any).deleteMemory).toEqual({ memoryId: id, message: 'Memory deleted successfully', backend: 'MIELTO' });
    // The owner is checked by the gateway (a read), not left to Mielto.
    expect(s.lines()).toEqual([`GET /api/v1/memories/${id}?user_id=${s.user}`, `DELETE /api/v1/memories/${id}?user_id=${s.user}`]);
  });

  it('escapes the memory id into one path segment', async () => {
    const s = await setup();
    expect(errorOf(await s.del('a/../../x?y')).extensions?.code).toBe('NOT_FOUND');
    expect(s.fake.requests.map((r) => r.path)).toEqual(['/api/v1/memories/a%2F..%2F..%2Fx%3Fy']);
    expect(errorOf(await s.del('..')).extensions?.code).toBe('NOT_FOUND');
    expect(s.fake.requests).toHaveLength(1);
  });
});

describe('mielto adapter: documented variants (README §4)', () => {
  it('reads list items under `data` (the TS SDK reading)', async () => {
    const s = await setup({ fake: { listKey: 'data' } });
    const [a, b] = s.seed(2);
    expect(ids(await s.list())).toEqual([b, a]);
  });

  it('accepts a 204 delete without a body', async () => {
    const s = await setup({ fake: { deleteStatus: 204 } });
    const [id] = s.seed(1);
    expect((dataOf(await s.del(id!)) as any).deleteMemory).toEqual({ memoryId: id, message: 'Memory deleted', backend: 'MIELTO' });
    expect(ids(await s.list())).toEqual([]);
  });

  it('reads naive (offset-less) timestamps as UTC and tolerates null topics and metadata', async () => {
    class NaiveTimes extends MieltoFake {
      protected override handle(req: FakeRequest): FakeResponse {
        const res = super.handle(req);
        const body = res.json as { memories?: Record<string, unknown>[] } | undefined;
        for (const m of body?.memories ?? []) {
          m.created_at = String(m.created_at).replace(/Z$/, '');
          m.topics = null;
        }
        return res;
      }
    }
    const s = await setup({ fakeClass: NaiveTimes });
    s.fake.seedMemory(KEY_A, { user_id: s.user, memory: 'm', created_at: '2026-01-10T08:00:00.000Z' });
    const node = (dataOf(await s.list()) as any).memories.edges[0].node;
    expect(node).toMatchObject({ createdAt: '2026-01-10T08:00:00.000Z', topics: [], metadata: null });
  });

  it('accepts a flat MemoryResponse from create and a delete body without a message', async () => {
    class Flat extends MieltoFake {
      protected override handle(req: FakeRequest): FakeResponse {
        const res = super.handle(req);
        if (req.method === 'POST' && res.status === 200) return { status: 200, json: (res.json as { memory: unknown }).memory };
        if (req.method === 'DELETE' && res.status === 200) return { status: 200, json: { memory_id: (res.json as { memory_id: string }).memory_id } };
        return res;
      }
    }
    const s = await setup({ fakeClass: Flat });
    const created = (dataOf(await s.gateway.execute(CREATE, { input: { userId: s.user, memory: 'flat' } }, { token: s.tokenA })) as any).createMemory;
    expect(created).toMatchObject({ userId: s.user, memory: 'flat', topics: [], metadata: null, backend: 'MIELTO' });
    expect((dataOf(await s.del(created.id)) as any).deleteMemory.message).toBe('Memory deleted');
  });

  it('reports an unexpected payload as UPSTREAM_ERROR without echoing it', async () => {
    class Unexpected extends MieltoFake {
      protected override handle(req: FakeRequest): FakeResponse {
        return req.method === 'GET' ? { status: 200, json: { items: [{ secret: 'another user memory' }] } } : super.handle(req);
      }
    }
    const s = await setup({ fakeClass: Unexpected });
    const error = errorOf(await s.list());
    expect(error.extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'mielto', upstreamStatus: 200 });
    expect(JSON.stringify(error)).not.toContain('another user memory');
  });
});

describe('mielto adapter: cursors', () => {
  it('resumes after a mid-page edge from the same Mielto page (first + its position), in one upstream call', async () => {
    const s = await setup();
    const seeded = s.seed(5).reverse();
    const page = dataOf(await s.list({ first: 3 })) as any;
    s.fake.requests.length = 0;
    expect(ids(await s.list({ first: 3, after: page.memories.edges[0].cursor }))).toEqual(seeded.slice(1, 4));
    expect(s.lines()).toEqual([`GET /api/v1/memories?user_id=${s.user}&limit=4&sort_by=created_at&sort_order=desc`]);
  });

  it('reads by keyset from the start when Mielto refuses a cursor whose memory was deleted', async () => {
    // Whether Mielto honours a cursor naming a deleted memory is unconfirmed (§4.2); this fake does not.
    class ForgetsDeleted extends MieltoFake {
      readonly gone = new Set<string>();
      protected override handle(req: FakeRequest): FakeResponse {
        const cursor = req.query.get('cursor');
        if (req.method === 'GET' && cursor && this.gone.has(cursor)) {
          return { status: 422, json: { detail: [{ loc: ['query', 'cursor'], msg: 'unknown cursor', type: 'value_error' }] } };
        }
        const res = super.handle(req);
        if (req.method === 'DELETE' && res.status === 200) this.gone.add(decodeURIComponent(req.path.split('/').pop()!));
        return res;
      }
    }
    const s = await setup({ fakeClass: ForgetsDeleted });
    const seeded = s.seed(5).reverse();
    const first = dataOf(await s.list({ first: 2 })) as any;
    dataOf(await s.del(seeded[1]!));
    s.fake.requests.length = 0;
    const next = dataOf(await s.list({ first: 2, after: first.memories.pageInfo.endCursor })) as any;
    expect(next.memories.edges.map((e: any) => e.node.id)).toEqual(seeded.slice(2, 4));
    expect(next.memories.pageInfo.hasNextPage).toBe(true);
    expect(s.lines()).toEqual([
      `GET /api/v1/memories?user_id=${s.user}&cursor=${seeded[1]}&limit=2&sort_by=created_at&sort_order=desc`,
      `GET /api/v1/memories?user_id=${s.user}&limit=100&sort_by=created_at&sort_order=desc`,
    ]);
    expect(ids(await s.list({ first: 2, after: next.memories.pageInfo.endCursor }))).toEqual(seeded.slice(4));
  });

  it('ends the list when Mielto hands back the cursor it was given instead of looping', async () => {
    class StuckCursor extends MieltoFake {
      protected override handle(req: FakeRequest): FakeResponse {
        const res = super.handle(req);
        const cursor = req.query.get('cursor');
        if (req.method === 'GET' && cursor) return { status: 200, json: { memories: [], next_cursor: cursor, has_more: true } };
        return res;
      }
    }
    const s = await setup({ fakeClass: StuckCursor });
    s.seed(3);
    const first = dataOf(await s.list({ first: 2 })) as any;
    const next = dataOf(await s.list({ first: 2, after: first.memories.pageInfo.endCursor })) as any;
    expect(next.memories).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    expect(s.fake.requests).toHaveLength(2);
  });

  it("rejects another list's cursor before calling Mielto", async () => {
    const s = await setup();
    const foreign = Buffer.from(JSON.stringify({ k: 'local:memories', t: new Date().toISOString(), id: 'x' })).toString('base64url');
    expect(errorOf(await s.list({ after: foreign })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(s.fake.requests).toHaveLength(0);
  });
});

describe('mielto adapter: errors and faults', () => {
  const quick = { UPSTREAM_MAX_RETRIES: '2', UPSTREAM_MAX_RETRY_AFTER_MS: '2000', UPSTREAM_RETRY_BUDGET_MS: '5000' };

  it('maps 404 on delete to NOT_FOUND and a refused key to UPSTREAM_ERROR, never leaking the key or the body', async () => {
    const s = await setup({ settingsA: { 'mielto.apiKey': 'mielto-revoked-key-0000' } });
    expect(errorOf(await s.list()).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'mielto', upstreamStatus: 401 });
    const body = JSON.stringify((await s.list()).body);
    expect(body).not.toContain('mielto-revoked-key-0000');
    expect(body).not.toContain('Invalid API key');
    await setTenant(s.gateway.app.prisma, s.gateway.config, 'tenant-a', { settings: { 'mielto.apiKey': KEY_A } });
    expect(errorOf(await s.del('mem_missing')).extensions).toEqual({ code: 'NOT_FOUND' });
    expect(s.gateway.logs.join('\n')).not.toMatch(/mielto-(revoked|secret)-key/);
  });

  it('honours a 429 Retry-After, then succeeds', async () => {
    const s = await setup({ env: quick });
    s.seed(1);
    s.fake.rateLimit({ retryAfterSeconds: 1 });
    const { value: res, ms } = await timed(() => s.list());
    expect(ids(res)).toHaveLength(1);
    expect(s.fake.requests).toHaveLength(2);
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(3000);
  });

  it('does not wait for a Retry-After beyond the cap: UPSTREAM_ERROR with retryAfter', async () => {
    const s = await setup({ env: quick });
    s.fake.rateLimit({ retryAfterSeconds: 30 });
    const { value: res, ms } = await timed(() => s.list());
    expect(errorOf(res).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'mielto', upstreamStatus: 429, retryAfter: 30 });
    expect(s.fake.requests).toHaveLength(1);
    expect(ms).toBeLessThan(1000);
  });

  it.each([502, 503, 504] as const)('retries a %i, then succeeds', async (status) => {
    const s = await setup({ env: quick });
    s.seed(1);
    s.fake.serverError({ status });
    expect(ids(await s.list())).toHaveLength(1);
    expect(s.fake.requests).toHaveLength(2);
  });

  it('gives up on a lasting 503 after UPSTREAM_MAX_RETRIES retries', async () => {
    const s = await setup({ env: quick });
    s.fake.serverError({ status: 503, times: 10 });
    expect(errorOf(await s.list()).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'mielto', upstreamStatus: 503 });
    expect(s.fake.requests).toHaveLength(3);
  });

  it('does not retry a 500', async () => {
    const s = await setup({ env: quick });
    s.fake.serverError({ status: 500 });
    const error = errorOf(await s.list());
    expect(error.extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'mielto', upstreamStatus: 500 });
    expect(error.message).not.toContain('Internal Server Error');
    expect(s.fake.requests).toHaveLength(1);
  });

  it('answers UPSTREAM_TIMEOUT in bounded time when Mielto is slower than MIELTO_TIMEOUT_MS', async () => {
    const s = await setup({ env: { ...quick, MIELTO_TIMEOUT_MS: '200' } });
    s.fake.slow({ delayMs: 5000, times: 5 });
    const { value: res, ms } = await timed(() => s.list());
    expect(errorOf(res).extensions).toEqual({ code: 'UPSTREAM_TIMEOUT', provider: 'mielto' });
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1500);
  });

  it('retries a dropped connection, then succeeds', async () => {
    const s = await setup({ env: quick });
    s.seed(1);
    s.fake.dropConnection();
    expect(ids(await s.list())).toHaveLength(1);
    expect(s.fake.requests).toHaveLength(2);
  });

  it('answers UPSTREAM_UNAVAILABLE when every attempt is dropped', async () => {
    const s = await setup({ env: quick });
    s.fake.dropConnection({ times: 10 });
    expect(errorOf(await s.list()).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mielto' });
    expect(s.fake.requests).toHaveLength(3);
  });

  it('maps malformed JSON to UPSTREAM_ERROR', async () => {
    const s = await setup({ env: quick });
    s.fake.malformedJson();
    const error = errorOf(await s.list());
    expect(error.extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'mielto', upstreamStatus: 200 });
    expect(error.message).not.toContain('truncated');
    expect(s.fake.requests).toHaveLength(1);
  });

  it('never repeats a create that may have arrived (dropped connection, 503), but repeats one refused with 429', async () => {
    const s = await setup({ env: quick });
    const create = () => s.gateway.execute(CREATE, { input: { userId: s.user, memory: 'once' } }, { token: s.tokenA });
    s.fake.dropConnection({ afterProcessing: true });
    expect(errorOf(await create()).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mielto' });
    expect(s.fake.requests).toHaveLength(1);
    s.fake.serverError({ status: 503 });
    expect(errorOf(await create()).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 503 });
    expect(s.fake.requests).toHaveLength(2);
    s.fake.rateLimit({ retryAfterSeconds: 0 });
    dataOf(await create());
    expect(s.fake.requests).toHaveLength(4);
    // The first create was applied although the caller saw an error; the 503 and 429 ones were not.
    expect((dataOf(await s.list()) as any).memories.edges).toHaveLength(2);
  });

  it('reports a delete done when a retry meets 404 after a dropped connection that had applied it', async () => {
    const s = await setup({ env: quick });
    const [id, keep] = s.seed(2);
    s.fake.dropConnection({ afterProcessing: true, match: /^DELETE / });
    expect((dataOf(await s.del(id!)) as any).deleteMemory).toEqual({ memoryId: id, message: 'Memory deleted', backend: 'MIELTO' });
    expect(s.lines()).toEqual([
      `GET /api/v1/memories/${id}?user_id=${s.user}`,
      `DELETE /api/v1/memories/${id}?user_id=${s.user}`,
      `DELETE /api/v1/memories/${id}?user_id=${s.user}`,
    ]);
    expect(ids(await s.list())).toEqual([keep]);
    // Without an ambiguous earlier attempt a 404 stays NOT_FOUND.
    expect(errorOf(await s.del(id!)).extensions?.code).toBe('NOT_FOUND');
  });

  it('opens the circuit after UPSTREAM_BREAKER_THRESHOLD failures, fails fast, and recovers after the cooldown', async () => {
    const s = await setup({ env: { UPSTREAM_MAX_RETRIES: '0', UPSTREAM_BREAKER_THRESHOLD: '2', UPSTREAM_BREAKER_COOLDOWN_MS: '400' } });
    s.seed(1);
    s.fake.serverError({ status: 500, times: 2 });
    for (let i = 0; i < 2; i++) expect(errorOf(await s.list()).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 500 });
    expect(s.fake.requests).toHaveLength(2);

    const { value: res, ms } = await timed(() => s.list());
    expect(errorOf(res).extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mielto', retryAfter: 1 });
    expect(ms).toBeLessThan(200);
    expect(s.fake.requests).toHaveLength(2);
    // The circuit is per credential: tenant B's key still reaches Mielto.
    expect(ids(await s.list({}, s.tokenB))).toEqual([]);
    expect(s.fake.requests).toHaveLength(3);

    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(ids(await s.list())).toHaveLength(1);
    expect(s.fake.requests).toHaveLength(4);
  });

  it('audits proxied deletes with their outcome', async () => {
    const s = await setup({ env: { ...quick, UPSTREAM_MAX_RETRIES: '0' } });
    const [id] = s.seed(1);
    dataOf(await s.del(id!));
    await s.del(id!);
    s.fake.serverError({ status: 500 });
    await s.del('mem_other');
    const audit = (dataOf(await s.gateway.execute(AUDIT, {}, { token: s.tokenA })) as any).deletionAudit.edges.map((e: any) => e.node);
    expect(audit).toEqual([
      { operation: 'deleteMemory', backend: 'MIELTO', targetId: 'mem_other', userId: s.user, outcome: 'upstream_error' },
      { operation: 'deleteMemory', backend: 'MIELTO', targetId: id, userId: s.user, outcome: 'not_found' },
      { operation: 'deleteMemory', backend: 'MIELTO', targetId: id, userId: s.user, outcome: 'deleted' },
    ]);
  });

  it('cancels the upstream call when the client goes away', async () => {
    const s = await setup({ env: { MIELTO_TIMEOUT_MS: '10000' } });
    s.fake.slow({ delayMs: 5000 });
    const upstream = watchUpstreamErrors(s.fake.url);
    try {
      const started = performance.now();
      const request = abortableRequest(s.gateway, s.tokenA, LIST, { userId: s.user });
      await waitUntil(() => s.fake.requests.length === 1);
      request.abort();
      await request.done;
      await waitUntil(() => upstream.errors.length > 0);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(upstream.errors).toEqual([expect.stringMatching(/^\/api\/v1\/memories\?.* (AbortError|RequestAbortedError)$/)]);
      expect(s.fake.requests).toHaveLength(1);
    } finally {
      upstream.stop();
    }
  });
});
