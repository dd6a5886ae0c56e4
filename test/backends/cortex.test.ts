import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FamilyHarness, UserMemorySeed } from '../contract/harness.js';
import { providerHarness } from '../contract/provider-harness.js';
import { CortexFake, type CortexFakeOptions } from '../fakes/cortex.js';
import type { FakeRequest, FakeResponse } from '../fakes/fake-server.js';
import { dataOf, errorOf, type GraphQLResponse } from '../helpers/gateway.js';
import { timed } from '../helpers/upstream.js';

/**
 * Cortex through the gateway: GraphQL in, the fake out (README §3). What a user sees, plus what
 * Cortex received.
 */

const KEYS = ['cortex-key-tenant-a', 'cortex-key-tenant-b'] as const;
const CORTEX_TENANTS = ['cortex-org-a', 'cortex-org-b'] as const;
const JWT_SECRET = 'jwt-secret-for-tests-0123456789abcdef';
type Paths = 'user_memory' | 'memories';

const LIST = /* GraphQL */ `
  query List($first: Int, $after: String, $userId: String, $agentId: String, $subTenantId: String) {
    userMemories(first: $first, after: $after, userId: $userId, agentId: $agentId, subTenantId: $subTenantId) {
      edges { cursor node { id content userId agentId userPrompt context subTenantId createdAt updatedAt backend } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const DELETE = /* GraphQL */ `
  mutation Delete($id: ID!, $subTenantId: String) {
    deleteUserMemory(userMemoryId: $id, subTenantId: $subTenantId) { userMemoryId deleted backend }
  }
`;

const ADD = /* GraphQL */ `
  mutation Add($input: AddUserMemoryInput!) { addUserMemory(input: $input) { id } }
`;

const AUDIT = /* GraphQL */ `{ deletionAudit { edges { node { operation backend targetId outcome } } } }`;

/**
 * The shared fake plus a hook for the response shapes it does not serve: the oldest captured
 * variants (bare array list, bare boolean delete; README §3.2, §3.3) and the provider's own 404 on
 * a list (§3.5).
 */
class CortexVariantFake extends CortexFake {
  respond?: (req: FakeRequest) => FakeResponse | undefined;

  protected override handle(req: FakeRequest): FakeResponse {
    return this.respond?.(req) ?? super.handle(req);
  }
}

interface Setup {
  h: FamilyHarness<UserMemorySeed>;
  fake: CortexVariantFake;
  /** Stores a memory for tenant 0 (or `tenant`) in the given sub-tenant (default one when omitted). */
  seed(content: string, subTenantId?: string, tenant?: 0 | 1): string;
  list(vars?: Record<string, unknown>, token?: string): Promise<GraphQLResponse>;
  del(id: string, subTenantId?: string | null, token?: string): Promise<GraphQLResponse>;
  /** What the fake received, in a comparable shape. */
  calls(): { method: string; path: string; query: Record<string, string>; body: unknown }[];
}

let current: Setup | undefined;
afterEach(async () => {
  await current?.h.close();
  current = undefined;
});

async function setup(
  o: { paths?: Paths; fake?: Partial<CortexFakeOptions>; env?: Record<string, string>; tenantKeys?: readonly [string, string] } = {},
): Promise<Setup> {
  const paths = o.paths ?? 'user_memory';
  const tenantKeys = o.tenantKeys ?? KEYS;
  const fake = await new CortexVariantFake({ apiKeys: [...KEYS], ...o.fake }).listen();
  const h = await providerHarness<UserMemorySeed>({
    backend: 'CORTEX',
    canCreate: false,
    userScope: 'subTenant',
    env: { UPSTREAM_MAX_RETRIES: '2', UPSTREAM_RETRY_BUDGET_MS: '5000', UPSTREAM_MAX_RETRY_AFTER_MS: '3000', ...o.env },
    tenant: (index) => ({
      userMemories: 'cortex',
      settings: { 'cortex.url': fake.url, 'cortex.apiKey': tenantKeys[index], 'cortex.tenantId': CORTEX_TENANTS[index], 'cortex.paths': paths },
    }),
    seed: async (index, { content, subTenantId }) => fake.seedMemory(KEYS[index], { tenantId: CORTEX_TENANTS[index], subTenantId, content }),
    close: () => fake.close(),
  });
  const token = h.tenants[0].token;
  current = {
    h,
    fake,
    seed: (content, subTenantId, tenant = 0) => fake.seedMemory(KEYS[tenant], { tenantId: CORTEX_TENANTS[tenant], subTenantId, content }),
    list: (vars = {}, t = token) => h.gateway.execute(LIST, { first: 10, ...vars }, { token: t }),
    del: (id, subTenantId, t = token) => h.gateway.execute(DELETE, { id, subTenantId }, { token: t }),
    calls: () =>
      fake.requests.map((r) => ({ method: r.method, path: r.path, query: Object.fromEntries(r.query), body: r.body })),
  };
  return current;
}

const ids = (res: GraphQLResponse): string[] => dataOf(res).userMemories.edges.map((e: { node: { id: string } }) => e.node.id);

const PATHS: Record<Paths, { list: { method: string; path: string }; delete: string }> = {
  user_memory: { list: { method: 'GET', path: '/user_memory/list_user_memories' }, delete: '/user_memory/delete_user_memory' },
  memories: { list: { method: 'POST', path: '/list/data' }, delete: '/memories/delete_memory' },
};

describe.each(['user_memory', 'memories'] as const)('cortex requests (%s paths)', (paths) => {
  it('lists with the tenant credential and Cortex tenant id, default sub-tenant when none is named', async () => {
    const s = await setup({ paths, fake: { paths: paths === 'user_memory' ? 'docs' : 'v2' } });
    const older = s.seed('prefers dark mode');
    const newer = s.seed('works in the Pacific timezone');
    s.seed('belongs to team-1', 'team-1');

    const page = dataOf(await s.list()) as any;
    expect(page.userMemories.edges.map((e: any) => e.node)).toEqual([
      { id: newer, content: 'works in the Pacific timezone', userId: null, agentId: null, userPrompt: null, context: [], subTenantId: null, createdAt: null, updatedAt: null, backend: 'CORTEX' },
      { id: older, content: 'prefers dark mode', userId: null, agentId: null, userPrompt: null, context: [], subTenantId: null, createdAt: null, updatedAt: null, backend: 'CORTEX' },
    ]);

    const [call] = s.fake.requests;
    expect(s.fake.requests).toHaveLength(1);
    expect({ method: call!.method, path: call!.path }).toEqual(PATHS[paths].list);
    expect(call!.headers.authorization).toBe(`Bearer ${KEYS[0]}`);
    expect(call!.headers.accept).toBe('application/json');
    if (paths === 'user_memory') {
      expect(Object.fromEntries(call!.query)).toEqual({ tenant_id: CORTEX_TENANTS[0] });
      expect(call!.body).toBeUndefined();
    } else {
      expect(Object.fromEntries(call!.query)).toEqual({});
      expect(call!.headers['content-type']).toBe('application/json');
      // No sub_tenant_id key at all: Cortex then uses the tenant's default sub-tenant (§3.1).
      expect(call!.body).toEqual({ tenant_id: CORTEX_TENANTS[0], kind: 'memories' });
    }
  });

  it('sends the sub-tenant of subTenantId, or of userId, and the other tenant its own credential', async () => {
    const s = await setup({ paths });
    const team = s.seed('team memory', 'team-1');
    const alice = s.seed('alice memory', 'alice');
    const other = s.seed('tenant b memory', undefined, 1);

    const bySub = dataOf(await s.list({ subTenantId: 'team-1' })) as any;
    expect(bySub.userMemories.edges.map((e: any) => [e.node.id, e.node.subTenantId, e.node.userId])).toEqual([[team, 'team-1', null]]);
    // Sub-tenants are taken to be per user: a userId filter reads the user's sub-tenant and
    // attributes what it finds to that user.
    const byUser = dataOf(await s.list({ userId: 'alice' })) as any;
    expect(byUser.userMemories.edges.map((e: any) => [e.node.id, e.node.subTenantId, e.node.userId])).toEqual([[alice, 'alice', 'alice']]);
    expect(ids(await s.list({}, s.h.tenants[1].token))).toEqual([other]);

    const sent = s.calls();
    const scope = (c: (typeof sent)[number]) => (paths === 'user_memory' ? c.query : (c.body as Record<string, unknown>));
    expect(sent.map(scope)).toEqual(
      paths === 'user_memory'
        ? [
            { tenant_id: CORTEX_TENANTS[0], sub_tenant_id: 'team-1' },
            { tenant_id: CORTEX_TENANTS[0], sub_tenant_id: 'alice' },
            { tenant_id: CORTEX_TENANTS[1] },
          ]
        : [
            { tenant_id: CORTEX_TENANTS[0], sub_tenant_id: 'team-1', kind: 'memories' },
            { tenant_id: CORTEX_TENANTS[0], sub_tenant_id: 'alice', kind: 'memories' },
            { tenant_id: CORTEX_TENANTS[1], kind: 'memories' },
          ],
    );
    expect(s.fake.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${KEYS[0]}`, `Bearer ${KEYS[0]}`, `Bearer ${KEYS[1]}`]);
  });

  it('reads the whole list once per page and once per request for repeated reads of it', async () => {
    const s = await setup({ paths });
    for (let i = 0; i < 5; i++) s.seed(`memory ${i}`);
    const first = dataOf(await s.list({ first: 2 })) as any;
    expect(s.fake.requests).toHaveLength(1);
    await s.list({ first: 2, after: first.userMemories.pageInfo.endCursor });
    expect(s.fake.requests).toHaveLength(2);

    s.fake.requests.length = 0;
    const twice = await s.h.gateway.execute(
      `{ a: userMemories(first: 2) { edges { node { id } } } b: userMemories(first: 5) { edges { node { id } } } }`,
      {},
      { token: s.h.tenants[0].token },
    );
    expect((dataOf(twice) as any).b.edges).toHaveLength(5);
    expect(s.fake.requests).toHaveLength(1);
  });

  it('deletes with tenant_id, memory_id and sub_tenant_id as query parameters', async () => {
    const s = await setup({ paths });
    const id = s.seed('team memory', 'team-1');
    const res = await s.del(id, 'team-1');
    expect(dataOf(res)).toEqual({ deleteUserMemory: { userMemoryId: id, deleted: true, backend: 'CORTEX' } });
    expect(s.calls()).toEqual([
      { method: 'DELETE', path: PATHS[paths].delete, query: { tenant_id: CORTEX_TENANTS[0], memory_id: id, sub_tenant_id: 'team-1' }, body: undefined },
    ]);
    expect(s.fake.requests[0]!.headers.authorization).toBe(`Bearer ${KEYS[0]}`);
    expect(ids(await s.list({ subTenantId: 'team-1' }))).toEqual([]);
  });

  it('deletes only in the sub-tenant named (the default one when none is)', async () => {
    const s = await setup({ paths });
    const id = s.seed('team memory', 'team-1');
    expect(errorOf(await s.del(id)).extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect(s.calls()[0]!.query).toEqual({ tenant_id: CORTEX_TENANTS[0], memory_id: id });
    expect(ids(await s.list({ subTenantId: 'team-1' }))).toEqual([id]);
  });

  for (const missingDelete of ['not-found', 'not-deleted'] as const) {
    it(`answers NOT_FOUND for a missing memory (Cortex: ${missingDelete === 'not-found' ? '404 NOT_FOUND' : '200 user_memory_deleted:false'})`, async () => {
      const s = await setup({ paths, fake: { missingDelete } });
      const res = await s.del('memory_unknown');
      expect(errorOf(res).extensions).toEqual({ code: 'NOT_FOUND' });
      expect(s.fake.requests).toHaveLength(1);
    });

    it(`reports deleted when a dropped attempt was applied and the retry finds nothing (${missingDelete})`, async () => {
      const s = await setup({ paths, fake: { missingDelete } });
      const id = s.seed('to forget');
      s.fake.dropConnection({ afterProcessing: true, match: /^DELETE / });
      expect(dataOf(await s.del(id))).toEqual({ deleteUserMemory: { userMemoryId: id, deleted: true, backend: 'CORTEX' } });
      // The first attempt deleted it and lost the answer; the retry met "not found".
      expect(s.calls().map((c) => c.method)).toEqual(['DELETE', 'DELETE']);
      expect(ids(await s.list())).toEqual([]);
    });
  }
});

describe('cortex response variants', () => {
  it('accepts source_id/source_content items (docs field table, §3.3)', async () => {
    const s = await setup({ fake: { itemKeys: 'source' } });
    const id = s.seed('prefers dark mode');
    const page = dataOf(await s.list()) as any;
    expect(page.userMemories.edges.map((e: any) => [e.node.id, e.node.content])).toEqual([[id, 'prefers dark mode']]);
  });

  it('accepts the oldest variants: a bare array list and a bare boolean delete', async () => {
    const s = await setup();
    s.fake.respond = (req) =>
      req.method === 'GET'
        ? { status: 200, json: [{ source_id: 'memory_1', source_content: 'one' }, { memory_id: 'memory_2', memory_content: 'two' }] }
        : { status: 200, json: req.query.get('memory_id') === 'memory_1' };
    expect(ids(await s.list())).toEqual(['memory_1', 'memory_2']);
    expect((dataOf(await s.del('memory_1')) as any).deleteUserMemory.deleted).toBe(true);
    expect(errorOf(await s.del('memory_2')).extensions?.code).toBe('NOT_FOUND');
  });

  it("lists nothing when Cortex says the sub-tenant does not exist (404 NOT_FOUND, §3.5)", async () => {
    const s = await setup();
    s.fake.respond = () => ({ status: 404, json: { detail: { success: false, message: 'Sub-tenant not found', error_code: 'NOT_FOUND' } } });
    expect(dataOf(await s.list({ userId: 'new-user' }))).toEqual({ userMemories: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } } });
  });

  it('treats success:false and unknown shapes as upstream errors, never as empty or deleted', async () => {
    const s = await setup();
    s.fake.respond = (req) => (req.method === 'GET' ? { status: 200, json: { success: false, user_memories: [] } } : { status: 200, json: { ok: true } });
    expect(errorOf(await s.list()).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 200 });
    expect(errorOf(await s.del('memory_1')).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 200 });
    s.fake.respond = () => ({ status: 200, json: { success: true, user_memories: [{ memory_id: 'memory_1' }] } });
    expect(errorOf(await s.list()).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 200 });
  });

  it('maps the error envelope without echoing its message: 401 and 400 are UPSTREAM_ERROR', async () => {
    // A tenant whose key Cortex does not know.
    const s = await setup({ env: { LOG_LEVEL: 'debug' }, tenantKeys: ['revoked-key-a', 'revoked-key-b'] });
    const list = await s.list();
    expect(errorOf(list).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 401 });
    const del = await s.del('memory_1');
    expect(errorOf(del).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 401 });
    // 400 INVALID_PARAMETERS, with a message that quotes data.
    s.fake.respond = () => ({
      status: 400,
      json: { detail: { success: false, message: 'Invalid request parameters for alice@example.com', error_code: 'INVALID_PARAMETERS' } },
    });
    const bad = await s.list();
    expect(errorOf(bad).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 400 });

    const seen = JSON.stringify([list.body, del.body, bad.body]) + s.h.gateway.logs.join('\n');
    for (const secret of ['revoked-key-a', 'Invalid or expired API key', 'alice@example.com']) expect(seen).not.toContain(secret);
    expect(s.h.gateway.logs.some((l) => l.includes('"upstream call"'))).toBe(true);
  });

  it('answers UPSTREAM_ERROR (not NOT_FOUND) when the configured path generation is not served', async () => {
    const s = await setup({ paths: 'user_memory', fake: { paths: 'v2' } });
    const id = s.seed('exists');
    expect(errorOf(await s.list()).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 404 });
    expect(errorOf(await s.del(id)).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 404 });
  });
});

describe('cortex filters, cursors and scopes', () => {
  it('answers an agentId filter, or a userId that is not the named sub-tenant, with nothing and no upstream call', async () => {
    const s = await setup();
    s.seed('alice memory', 'alice');
    const empty = { userMemories: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } } };
    expect(dataOf(await s.list({ agentId: 'agent-1' }))).toEqual(empty);
    expect(dataOf(await s.list({ userId: 'alice', subTenantId: 'team-1' }))).toEqual(empty);
    expect(s.fake.requests).toHaveLength(0);
    expect(ids(await s.list({ userId: 'alice', subTenantId: 'alice' }))).toHaveLength(1);
  });

  it('keeps a cursor valid when the item it points at and the one after are both deleted', async () => {
    const s = await setup();
    const seeded = Array.from({ length: 6 }, (_, i) => s.seed(`memory ${i}`));
    const whole = [...seeded].reverse(); // the fake lists newest first
    const first = dataOf(await s.list({ first: 2 })) as any;
    expect(first.userMemories.edges.map((e: any) => e.node.id)).toEqual(whole.slice(0, 2));
    dataOf(await s.del(whole[1]!));
    dataOf(await s.del(whole[2]!));
    expect(ids(await s.list({ first: 2, after: first.userMemories.pageInfo.endCursor }))).toEqual(whole.slice(3, 5));
  });

  it('gives an empty last page when the final item of the list is deleted', async () => {
    const s = await setup();
    const whole = Array.from({ length: 3 }, (_, i) => s.seed(`memory ${i}`)).reverse();
    const all = dataOf(await s.list({ first: 3 })) as any;
    expect(all.userMemories.pageInfo.hasNextPage).toBe(false);
    dataOf(await s.del(whole[2]!));
    expect(dataOf(await s.list({ first: 3, after: all.userMemories.pageInfo.endCursor }))).toEqual({
      userMemories: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
    });
  });

  it("refuses a cursor of another sub-tenant's list", async () => {
    const s = await setup();
    s.seed('a', 'team-1');
    s.seed('b', 'team-1');
    const page = dataOf(await s.list({ first: 1, subTenantId: 'team-1' })) as any;
    const res = await s.list({ first: 1, after: page.userMemories.pageInfo.endCursor, subTenantId: 'team-2' });
    expect(errorOf(res).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('lets an end user list and delete only inside the sub-tenant named after them', async () => {
    const s = await setup({ env: { JWT_SECRET } });
    const own = s.seed('alice memory', 'alice');
    const shared = s.seed('default sub-tenant memory');
    const bobs = s.seed('bob memory', 'bob');
    const alice = await new SignJWT({ tenant: s.h.tenants[0].id })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JWT_SECRET));

    expect(ids(await s.list({}, alice))).toEqual([own]);
    expect(errorOf(await s.del(shared, null, alice)).extensions?.code).toBe('NOT_FOUND');
    expect(s.calls().at(-1)!.query).toEqual({ tenant_id: CORTEX_TENANTS[0], memory_id: shared, sub_tenant_id: 'alice' });
    const before = s.fake.requests.length;
    // Naming another user's sub-tenant is refused outright, before any call.
    expect(errorOf(await s.del(bobs, 'bob', alice)).extensions?.code).toBe('FORBIDDEN');
    expect(errorOf(await s.list({ subTenantId: 'bob' }, alice)).extensions?.code).toBe('FORBIDDEN');
    expect(s.fake.requests).toHaveLength(before);
    expect((dataOf(await s.del(own, null, alice)) as any).deleteUserMemory.deleted).toBe(true);
    expect(ids(await s.list({ subTenantId: 'bob' }))).toEqual([bobs]);
    expect(ids(await s.list())).toEqual([shared]);
  });

  it('answers addUserMemory with NOT_SUPPORTED, calls nothing and writes nothing', async () => {
    const s = await setup();
    const res = await s.h.gateway.execute(ADD, { input: { content: 'prefers aisle seats', subTenantId: 'alice' } }, { token: s.h.tenants[0].token });
    expect(errorOf(res).extensions).toEqual({ code: 'NOT_SUPPORTED', provider: 'cortex' });
    expect(s.fake.requests).toHaveLength(0);
    expect(ids(await s.list({ subTenantId: 'alice' }))).toEqual([]);
  });
});

describe('cortex faults', () => {
  it('honours a 429 Retry-After and then succeeds', async () => {
    const s = await setup();
    const id = s.seed('m');
    s.fake.rateLimit({ retryAfterSeconds: 1 });
    const { value: result, ms } = await timed(() => s.list());
    expect(ids(result)).toEqual([id]);
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(3000);
    expect(s.fake.requests).toHaveLength(2);
  });

  it('does not wait for a Retry-After beyond the cap: UPSTREAM_ERROR with retryAfter at once', async () => {
    const s = await setup({ env: { UPSTREAM_MAX_RETRY_AFTER_MS: '2000' } });
    s.fake.rateLimit({ retryAfterSeconds: 30 });
    const { value: result, ms } = await timed(() => s.list());
    expect(errorOf(result).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 429, retryAfter: 30 });
    expect(ms).toBeLessThan(1000);
    expect(s.fake.requests).toHaveLength(1);
  });

  it('does not retry a 500', async () => {
    const s = await setup();
    s.fake.serverError({ status: 500 });
    expect(errorOf(await s.list()).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 500 });
    expect(s.fake.requests).toHaveLength(1);
  });

  for (const status of [502, 503, 504] as const) {
    it(`retries a ${status}: success when it passes, UPSTREAM_ERROR after the last retry`, async () => {
      const s = await setup();
      const id = s.seed('m');
      s.fake.serverError({ status });
      expect(ids(await s.list())).toEqual([id]);
      expect(s.fake.requests).toHaveLength(2);

      s.fake.requests.length = 0;
      s.fake.serverError({ status, times: 3 });
      expect(errorOf(await s.del(id)).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: status });
      expect(s.fake.requests).toHaveLength(3); // UPSTREAM_MAX_RETRIES=2
      expect(ids(await s.list())).toEqual([id]);
    });
  }

  it('gives up on a slow answer with UPSTREAM_TIMEOUT in bounded time', async () => {
    const s = await setup({ env: { CORTEX_TIMEOUT_MS: '200' } });
    s.fake.slow({ delayMs: 3000 });
    const { value: result, ms } = await timed(() => s.list());
    expect(errorOf(result).extensions).toEqual({ code: 'UPSTREAM_TIMEOUT', provider: 'cortex' });
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1000);
    expect(s.fake.requests).toHaveLength(1);
  });

  it('retries a dropped connection, then answers UPSTREAM_UNAVAILABLE', async () => {
    for (const paths of ['user_memory', 'memories'] as const) {
      const s = await setup({ paths });
      const id = s.seed('m');
      s.fake.dropConnection();
      expect(ids(await s.list())).toEqual([id]);
      expect(s.fake.requests).toHaveLength(2);

      s.fake.requests.length = 0;
      s.fake.dropConnection({ times: 3 });
      expect(errorOf(await s.list()).extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'cortex' });
      expect(s.fake.requests).toHaveLength(3);
      await s.h.close();
      current = undefined;
    }
  });

  it('answers UPSTREAM_ERROR for malformed JSON, and a delete that got one is not reported done', async () => {
    const s = await setup();
    const id = s.seed('m');
    s.fake.malformedJson();
    expect(errorOf(await s.list()).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 200 });
    s.fake.malformedJson();
    expect(errorOf(await s.del(id)).extensions).toEqual({ code: 'UPSTREAM_ERROR', provider: 'cortex', upstreamStatus: 200 });
    expect(s.fake.requests).toHaveLength(2);
    expect(ids(await s.list())).toEqual([id]);
  });

  it('opens the circuit after consecutive failures, fails fast, keeps other credentials apart, and recovers', async () => {
    const s = await setup({ env: { UPSTREAM_MAX_RETRIES: '0', UPSTREAM_BREAKER_THRESHOLD: '2', UPSTREAM_BREAKER_COOLDOWN_MS: '500' } });
    const id = s.seed('m');
    s.fake.serverError({ status: 500, times: 2 });
    for (let i = 0; i < 2; i++) expect(errorOf(await s.list()).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 500 });
    expect(s.fake.requests).toHaveLength(2);

    const { value: result, ms } = await timed(() => s.del(id));
    expect(errorOf(result).extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'cortex', retryAfter: 1 });
    expect(ms).toBeLessThan(200);
    expect(s.fake.requests).toHaveLength(2);
    // Tenant b has its own Cortex key, hence its own circuit.
    expect(ids(await s.list({}, s.h.tenants[1].token))).toEqual([]);
    expect(s.fake.requests).toHaveLength(3);

    await sleep(600);
    expect(ids(await s.list())).toEqual([id]);
    expect((dataOf(await s.del(id)) as any).deleteUserMemory.deleted).toBe(true);
    expect(s.fake.requests).toHaveLength(5);
  });

  it('audits proxied deletes with their outcome', async () => {
    const s = await setup({ env: { CORTEX_TIMEOUT_MS: '200' } });
    const [a, b, c] = [s.seed('a'), s.seed('b'), s.seed('c')];
    await s.del(a);
    await s.del(a);
    s.fake.serverError({ status: 500 });
    await s.del(b);
    // The fake applies the delete, then answers too late; the gateway re-sends it, meets
    // "not found" and reports it done, as it is.
    s.fake.slow({ delayMs: 1000 });
    expect(dataOf(await s.del(c))).toMatchObject({ deleteUserMemory: { deleted: true } });
    s.fake.dropConnection({ afterProcessing: true });
    await s.del(b);
    const audit = dataOf(await s.h.gateway.execute(AUDIT, {}, { token: s.h.tenants[0].token })) as any;
    expect(audit.deletionAudit.edges.map((e: any) => e.node)).toEqual(
      [
        [a, 'deleted'],
        [a, 'not_found'],
        [b, 'upstream_error'],
        [c, 'deleted'],
        [b, 'deleted'],
      ]
        .reverse()
        .map(([targetId, outcome]) => ({ operation: 'deleteUserMemory', backend: 'CORTEX', targetId, outcome })),
    );
  });

  it('cancels the upstream call when the client goes away', async () => {
    const s = await setup({ env: { LOG_LEVEL: 'debug' } });
    s.seed('m');
    const answered = () => s.h.gateway.logs.filter((l) => l.includes('"upstream call"')).length;
    dataOf(await s.list());
    expect(answered()).toBe(1); // an answered call is logged, so the check below can fail

    s.fake.slow({ delayMs: 1500 });
    const client = new AbortController();
    const pending = s.h.gateway
      .fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.h.tenants[0].token}` },
        body: JSON.stringify({ query: LIST, variables: { first: 5 } }),
        signal: client.signal,
      })
      .then((r) => r.text())
      .catch(() => 'aborted');
    await vi.waitFor(() => expect(s.fake.requests).toHaveLength(2), { timeout: 2000, interval: 20 });
    const abortedAt = performance.now();
    client.abort();
    await pending;
    expect(performance.now() - abortedAt).toBeLessThan(500);
    // Past the moment the fake answers: had the call not been cancelled, it would be logged.
    await sleep(1700);
    expect(answered()).toBe(1);
    expect(s.h.gateway.logs.some((l) => l.includes('timed out'))).toBe(false);
  });
});
