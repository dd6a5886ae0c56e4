import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_SCAN_CALLS } from '../../src/backends/datagrid/store.js';
import { setTenant } from '../../src/tenants.js';
import type { FamilyHarness, UserMemorySeed } from '../contract/harness.js';
import { providerHarness } from '../contract/provider-harness.js';
import { DatagridFake, type DatagridFakeOptions, type DatagridMemorySeed } from '../fakes/datagrid.js';
import type { FakeResponse, FaultOptions } from '../fakes/fake-server.js';
import { dataOf, errorOf, type GraphQLResponse } from '../helpers/gateway.js';
import { abortableRequest, timed, waitUntil, watchUpstreamErrors } from '../helpers/upstream.js';

/**
 * Datagrid through the gateway: GraphQL in, the fake (../shared/upstreams/README.md §2) out.
 * Each test asserts what the client sees and what Datagrid received.
 */

const API_KEYS = ['datagrid-key-tenant-a', 'datagrid-key-tenant-b'] as const;
const TEAMSPACES = ['ts-a', 'ts-b'] as const;
const JWT_SECRET = 'jwt-secret-for-datagrid-tests-0123456789';

/** The fake plus a way to answer with any documented body, for the variants it does not produce. */
class DatagridVariants extends DatagridFake {
  answer(response: FakeResponse, o: FaultOptions = {}): void {
    this.inject(o, () => response);
  }
}

const LIST = /* GraphQL */ `
  query Memories($first: Int, $after: String, $userId: String, $agentId: String, $subTenantId: String) {
    userMemories(first: $first, after: $after, userId: $userId, agentId: $agentId, subTenantId: $subTenantId) {
      edges { cursor node { id content userId agentId userPrompt context subTenantId createdAt updatedAt backend } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const DELETE = /* GraphQL */ `
  mutation Delete($id: ID!, $subTenantId: String) { deleteUserMemory(userMemoryId: $id, subTenantId: $subTenantId) { userMemoryId deleted backend } }
`;

const ADD = /* GraphQL */ `
  mutation Add($input: AddUserMemoryInput!) {
    addUserMemory(input: $input) { id content userId agentId userPrompt context subTenantId createdAt updatedAt backend }
  }
`;

const AUDIT = /* GraphQL */ `
  { deletionAudit { edges { node { operation backend targetId outcome actor } } } }
`;

interface MemoryPage {
  edges: {
    cursor: string;
    node: { id: string; content: string; userId: string | null; agentId: string | null; userPrompt: string | null; context: string[]; subTenantId: string | null; createdAt: string | null; updatedAt: string | null; backend: string };
  }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

let h: FamilyHarness<UserMemorySeed> | undefined;
let fake: DatagridVariants;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A gateway whose two tenants use Datagrid with their own API keys and teamspaces. */
/**
 * `own`: each tenant has its own key and teamspace; `key-only`: its own key, no teamspace;
 * `environment`: the first tenant runs on DATAGRID_URL/DATAGRID_API_KEY with no settings.
 */
type Credentials = 'own' | 'key-only' | 'environment';

async function start(env: Record<string, string> = {}, fakeOptions: Partial<DatagridFakeOptions> = {}, credentials: Credentials = 'own') {
  fake = await new DatagridVariants({ apiKeys: [...API_KEYS], ...fakeOptions }).listen();
  const fromEnvironment: Record<string, string> = credentials === 'environment' ? { DATAGRID_URL: fake.url, DATAGRID_API_KEY: API_KEYS[0] } : {};
  h = await providerHarness<UserMemorySeed>({
    backend: 'DATAGRID',
    canCreate: true,
    env: { UPSTREAM_MAX_RETRIES: '2', UPSTREAM_RETRY_BUDGET_MS: '5000', UPSTREAM_MAX_RETRY_AFTER_MS: '2000', JWT_SECRET, ...fromEnvironment, ...env },
    tenant: (index) => ({
      userMemories: 'datagrid',
      settings:
        credentials === 'environment' && index === 0
          ? {}
          : {
              'datagrid.url': fake.url,
              'datagrid.apiKey': API_KEYS[index],
              ...(credentials === 'own' && { 'datagrid.teamspace': TEAMSPACES[index] }),
            },
    }),
    seed: async (index, { content, userId, agentId }) =>
      fake.seedMemory(API_KEYS[index], { memory: content, user_id: userId, agent_id: agentId, teamspace: TEAMSPACES[index] }),
    close: () => fake.close(),
  });
  return h;
}

const run = (query: string, variables: Record<string, unknown>, tenant: 0 | 1 = 0) =>
  h!.gateway.execute<any>(query, variables, { token: h!.tenants[tenant].token });

const list = async (variables: Record<string, unknown>, tenant: 0 | 1 = 0): Promise<MemoryPage> => dataOf(await run(LIST, variables, tenant)).userMemories;

const del = (id: string, tenant: 0 | 1 = 0) => run(DELETE, { id }, tenant);

/** Seeds `n` memories in tenant 0's teamspace, oldest first; returns their ids newest first. */
function seed(n: number, extra: Partial<DatagridMemorySeed> = {}, prefix = 'memory'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(fake.seedMemory(API_KEYS[0], { memory: `${prefix} ${i}`, teamspace: TEAMSPACES[0], ...extra }));
  return ids.reverse();
}

const gets = () => fake.requests.filter((r) => r.method === 'GET');
const windows = () => gets().map((r) => `${r.query.get('offset')}+${r.query.get('limit')}`);

/** Reads a whole list page by page; returns ids and the pages' sizes. */
async function readAll(variables: Record<string, unknown>, first: number, tenant: 0 | 1 = 0) {
  const ids: string[] = [];
  const sizes: number[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 200; guard++) {
    const page = await list({ ...variables, first, after }, tenant);
    ids.push(...page.edges.map((e) => e.node.id));
    sizes.push(page.edges.length);
    if (!page.pageInfo.hasNextPage) return { ids, sizes };
    after = page.pageInfo.endCursor;
  }
  throw new Error('pagination did not end');
}

/** An end user's bearer token (claims: sub, tenant). */
const userToken = (sub: string, tenant = 'tenant-a') =>
  new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('5m').sign(new TextEncoder().encode(JWT_SECRET));

/** No credential and no raw upstream body ever reaches the client or the logs. */
function expectNoLeak(response: GraphQLResponse) {
  const seen = JSON.stringify(response.body) + h!.gateway.logs.join('\n');
  for (const secret of [...API_KEYS, 'rate_limit_exceeded', 'Rate limit exceeded', 'Bad Gateway', 'Internal Server Error', '"truncated"', 'Invalid or missing API key']) {
    expect(seen).not.toContain(secret);
  }
}

describe('datagrid: the requests the gateway sends', () => {
  it('lists with GET /v1/user-memories?limit=&offset= under the tenant\'s key and teamspace, one call per page', async () => {
    await start();
    const ids = seed(5);
    fake.seedMemory(API_KEYS[1], { memory: 'tenant b', teamspace: TEAMSPACES[1] });

    const page = await list({ first: 2 });
    expect(page.edges.map((e) => e.node.id)).toEqual(ids.slice(0, 2));
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'GET', path: '/v1/user-memories', body: undefined });
    // The page plus one more, to learn whether more follow.
    expect([...req!.query.entries()]).toEqual([['limit', '3'], ['offset', '0']]);
    expect(req!.headers.authorization).toBe(`Bearer ${API_KEYS[0]}`);
    expect(req!.headers['datagrid-teamspace']).toBe(TEAMSPACES[0]);
    expect(req!.headers.accept).toBe('application/json');

    // Next pages start at the cursor's own item (to check it is still there) and read one more.
    const next = await list({ first: 2, after: page.pageInfo.endCursor });
    expect(next.edges.map((e) => e.node.id)).toEqual(ids.slice(2, 4));
    const last = await list({ first: 2, after: next.pageInfo.endCursor });
    expect(last.edges.map((e) => e.node.id)).toEqual(ids.slice(4));
    expect(last.pageInfo.hasNextPage).toBe(false);
    expect(windows()).toEqual(['0+3', '1+4', '3+4']);

    const other = await list({ first: 10 }, 1);
    expect(other.edges.map((e) => e.node.content)).toEqual(['tenant b']);
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${API_KEYS[1]}`);
    expect(fake.requests.at(-1)!.headers['datagrid-teamspace']).toBe(TEAMSPACES[1]);
  });

  it('reads a full page of 100 with one call, trusting has_more', async () => {
    await start();
    const ids = seed(150);
    const page = await list({ first: 100 });
    expect(page.edges.map((e) => e.node.id)).toEqual(ids.slice(0, 100));
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(windows()).toEqual(['0+100']);
    const next = await list({ first: 100, after: page.pageInfo.endCursor });
    expect(next.edges.map((e) => e.node.id)).toEqual(ids.slice(100));
    expect(next.pageInfo.hasNextPage).toBe(false);
    expect(windows()).toEqual(['0+100', '99+100']);
  });

  it("sends DATAGRID_TEAMSPACE with the environment's key only, and no teamspace for a tenant key without one", async () => {
    await start({ DATAGRID_TEAMSPACE: 'ts-env' }, {}, 'environment');
    fake.seedMemory(API_KEYS[0], { memory: 'in env teamspace', teamspace: 'ts-env' });
    expect((await list({ first: 5 })).edges.map((e) => e.node.content)).toEqual(['in env teamspace']);
    expect(fake.requests[0]!.headers['datagrid-teamspace']).toBe('ts-env');
    await h!.close();

    // The environment's teamspace belongs to the environment's account: a tenant with its own
    // key is not sent it.
    await start({ DATAGRID_TEAMSPACE: 'ts-env' }, {}, 'key-only');
    fake.seedMemory(API_KEYS[0], { memory: 'default space' });
    expect((await list({ first: 5 })).edges.map((e) => e.node.content)).toEqual(['default space']);
    expect(fake.requests[0]!.headers).not.toHaveProperty('datagrid-teamspace');
  });

  it('deletes with DELETE /v1/user-memories/{id}, the id encoded, no body, Accept */*; 204 is deleted: true', async () => {
    await start();
    const [id, kept] = seed(2);
    const res = await del(id!);
    expect(dataOf(res).deleteUserMemory).toEqual({ userMemoryId: id, deleted: true, backend: 'DATAGRID' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'DELETE', path: `/v1/user-memories/${id}`, body: undefined });
    expect([...fake.requests[0]!.query.keys()]).toEqual([]);
    expect(fake.requests[0]!.headers).toMatchObject({ authorization: `Bearer ${API_KEYS[0]}`, 'datagrid-teamspace': TEAMSPACES[0], accept: '*/*' });
    expect((await list({ first: 10 })).edges.map((e) => e.node.id)).toEqual([kept]);

    fake.requests.length = 0;
    expect(errorOf(await del('a/b?c=d')).extensions?.code).toBe('NOT_FOUND');
    expect(fake.requests[0]!.path).toBe('/v1/user-memories/a%2Fb%3Fc%3Dd');
  });

  it('ignores subTenantId (a Cortex notion) for lists and deletes', async () => {
    await start();
    const [id] = seed(1);
    expect((await list({ first: 5, subTenantId: 'anything' })).edges.map((e) => e.node.id)).toEqual([id]);
    expect(dataOf(await run(DELETE, { id, subTenantId: 'anything' })).deleteUserMemory.deleted).toBe(true);
    expect(fake.requests.map((r) => [...r.query.keys()].join(','))).toEqual(['limit,offset', '']);
  });

  it('adds with POST /v1/user-memories {agent_id, memory, user_prompt, context joined by newlines}; 201 becomes the memory', async () => {
    await start();
    const input = { content: 'prefers window seats', agentId: 'agent-7', userPrompt: 'book me a flight', context: ['travel', 'long haul'] };
    const added = dataOf(await run(ADD, { input })).addUserMemory;
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/v1/user-memories' });
    expect(req!.body).toEqual({ agent_id: 'agent-7', memory: 'prefers window seats', user_prompt: 'book me a flight', context: 'travel\nlong haul' });
    expect(req!.headers).toMatchObject({ 'content-type': 'application/json', authorization: `Bearer ${API_KEYS[0]}`, 'datagrid-teamspace': TEAMSPACES[0] });
    expect(added).toEqual({
      id: expect.stringMatching(/^umem_/),
      content: 'prefers window seats',
      // Datagrid attributes the memory to the user behind the key (README §2.4: no user field).
      userId: fake.userIdOf(API_KEYS[0]),
      agentId: 'agent-7',
      userPrompt: 'book me a flight',
      context: ['travel\nlong haul'],
      subTenantId: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      backend: 'DATAGRID',
    });
    expect((await list({ first: 5 })).edges.map((e) => e.node)).toEqual([added]);
  });

  it('sends null for an absent prompt and context, and reads back "" as null', async () => {
    await start();
    const added = dataOf(await run(ADD, { input: { content: 'likes tea', agentId: 'agent-1' } })).addUserMemory;
    expect(fake.requests[0]!.body).toEqual({ agent_id: 'agent-1', memory: 'likes tea', user_prompt: null, context: null });
    expect(added).toMatchObject({ content: 'likes tea', userPrompt: null, context: [] });
  });

  it('answers BAD_USER_INPUT on input.agentId without calling Datagrid when the agent is missing', async () => {
    await start();
    const res = await run(ADD, { input: { content: 'prefers window seats', userId: 'u-1' } });
    expect(errorOf(res).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.agentId' });
    expect(fake.requests).toEqual([]);
  });
});

describe('datagrid: response variants (§2.2-§2.4)', () => {
  it('reads the documented example page verbatim: arrays joined, has_more true', async () => {
    await start();
    // The `page` example of datagrid.yaml, verbatim.
    fake.answer({
      status: 200,
      json: {
        object: 'list',
        data: [
          {
            object: 'user_memory',
            id: 'umem_01J9Z8K2Q4',
            updated_at: '2026-03-02T10:00:00.000Z',
            created_at: '2026-03-01T09:30:00.000Z',
            user_prompt: 'Please always answer in metric units.',
            context: ['Conversation about a hiking trip'],
            agent_id: 'agent_7f3c',
            user_id: 'user_42',
            memory: ['User prefers metric units'],
          },
        ],
        has_more: true,
      },
    });
    const page = await list({ first: 1 });
    expect(page.edges.map((e) => e.node)).toEqual([
      {
        id: 'umem_01J9Z8K2Q4',
        content: 'User prefers metric units',
        userId: 'user_42',
        agentId: 'agent_7f3c',
        userPrompt: 'Please always answer in metric units.',
        context: ['Conversation about a hiking trip'],
        subTenantId: null,
        createdAt: '2026-03-01T09:30:00.000Z',
        updatedAt: '2026-03-02T10:00:00.000Z',
        backend: 'DATAGRID',
      },
    ]);
    expect(page.pageInfo.hasNextPage).toBe(true);
  });

  it('joins several memory lines with "\\n" and keeps the context lines as they are', async () => {
    await start();
    seed(1, { memory: ['Prefers metric units', 'Lives in Oslo'], context: ['hiking', 'weather'], user_prompt: '' });
    const [node] = (await list({ first: 5 })).edges.map((e) => e.node);
    expect(node).toMatchObject({ content: 'Prefers metric units\nLives in Oslo', context: ['hiking', 'weather'], userPrompt: null });
  });

  it('tolerates has_more absent, one-string memory/context, null fields and extra keys', async () => {
    await start();
    const item = (id: string, created_at: string, extra: Record<string, unknown> = {}) => ({ object: 'user_memory', id, created_at, updated_at: created_at, memory: ['m'], context: [], ...extra });
    fake.answer({
      status: 200,
      json: {
        object: 'list',
        data: [
          item('umem_2', '2026-03-02T00:00:00Z', { memory: 'one string', context: 'one line', user_prompt: null, agent_id: null, user_id: null, updated_at: null, extra: 1 }),
          item('umem_1', '2026-03-01T00:00:00Z', { memory: null, context: null }),
        ],
      },
    });
    const page = await list({ first: 5 });
    expect(page.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ id: 'umem_2', content: 'one string', context: ['one line'], userPrompt: null, agentId: null, userId: null, updatedAt: '2026-03-02T00:00:00.000Z' }),
      expect.objectContaining({ id: 'umem_1', content: '', context: [] }),
    ]);
    // A short page without has_more is the last one.
    expect(page.pageInfo.hasNextPage).toBe(false);
  });

  it('reads the documented empty last page', async () => {
    await start();
    fake.answer({ status: 200, json: { object: 'list', data: [], has_more: false } });
    expect(await list({ first: 5 })).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('accepts a create answered with credits: null (billing write failed after the create, §2.4)', async () => {
    await start({}, { creditsConsumed: null });
    const added = dataOf(await run(ADD, { input: { content: 'likes tea', agentId: 'agent-1' } })).addUserMemory;
    expect(added).toMatchObject({ content: 'likes tea', agentId: 'agent-1', backend: 'DATAGRID' });
  });

  it('maps a rejected key (401) to UPSTREAM_ERROR 401 without showing the key or the body', async () => {
    await start();
    await setTenant(h!.gateway.app.prisma, h!.gateway.config, h!.tenants[1].id, { settings: { 'datagrid.apiKey': 'revoked-datagrid-key' } });
    const res = await run(LIST, { first: 5 }, 1);
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer revoked-datagrid-key');
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 401 });
    expect(JSON.stringify(res.body) + h!.gateway.logs.join('\n')).not.toContain('revoked-datagrid-key');
    expectNoLeak(res);
    expect(fake.requests).toHaveLength(1);
  });

  it('maps a 404 on the list (a teamspace outside the key\'s account, §2.1) and a 422 to UPSTREAM_ERROR', async () => {
    await start();
    fake.answer({ status: 404, json: { status_code: 404, error: 'not_found', message: 'Teamspace ts-a secret detail' } });
    const res = await run(LIST, { first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 404 });
    expect(JSON.stringify(res.body)).not.toContain('secret detail');
    fake.answer({ status: 422, json: { status_code: 422, error: 'validation_error', message: 'limit' } });
    expect(errorOf(await run(LIST, { first: 5 })).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 422 });
  });

  it('maps a body that is not a list, or items that are not memories, to UPSTREAM_ERROR', async () => {
    await start();
    fake.answer({ status: 200, json: { detail: 'Not Found' } });
    expect(errorOf(await run(LIST, { first: 5 })).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 200 });
    fake.answer({ status: 200, json: { object: 'list', data: [{ memory: ['private words'] }] } });
    const bad = await run(LIST, { first: 5 });
    expect(errorOf(bad).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 200 });
    expect(JSON.stringify(bad.body)).not.toContain('private words');
  });

  it('maps an unexpected delete status to UPSTREAM_ERROR and a create answer that is not a memory to UPSTREAM_ERROR', async () => {
    await start();
    const [id] = seed(1);
    fake.answer({ status: 403, json: { error: 'forbidden' } });
    expect(errorOf(await del(id!)).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 403 });
    fake.answer({ status: 201, json: { ok: true } });
    expect(errorOf(await run(ADD, { input: { content: 'x', agentId: 'a' } })).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 201 });
    expect((await list({ first: 5 })).edges.map((e) => e.node.id)).toEqual([id]);
  });
});

describe('datagrid: filters and cursors on top of offsets', () => {
  it('filters by user and agent in the gateway, scanning pages of 100, with full pages and working cursors', async () => {
    await start();
    // 250 memories; every 50th (offsets 49, 99, 149, 199, 249 newest first) is Ann's, with agent-a.
    const ann: string[] = [];
    for (let i = 0; i < 250; i++) {
      const mine = i % 50 === 0;
      const id = fake.seedMemory(API_KEYS[0], { memory: `m${i}`, user_id: mine ? 'ann' : 'bob', agent_id: mine ? 'agent-a' : 'agent-b', teamspace: TEAMSPACES[0] });
      if (mine) ann.unshift(id);
    }

    const first = await list({ first: 2, userId: 'ann' });
    expect(first.edges.map((e) => e.node.id)).toEqual(ann.slice(0, 2));
    expect(first.pageInfo.hasNextPage).toBe(true);
    // The page plus one more match (offsets 49, 99, 149) takes two reads of 100.
    expect(windows()).toEqual(['0+100', '100+100']);

    const { ids: byUser, sizes } = await readAll({ userId: 'ann' }, 2);
    expect(byUser).toEqual(ann);
    expect(sizes).toEqual([2, 2, 1]);
    const byBoth = await list({ first: 10, userId: 'ann', agentId: 'agent-a' });
    expect(byBoth.edges.map((e) => e.node.id)).toEqual(ann);
    expect(byBoth.pageInfo.hasNextPage).toBe(false);
    expect((await list({ first: 10, userId: 'ann', agentId: 'agent-b' })).edges).toEqual([]);
    expect((await list({ first: 100, agentId: 'agent-b' })).edges.every((e) => e.node.agentId === 'agent-b')).toBe(true);
  });

  it(`stops a filtered scan after ${MAX_SCAN_CALLS} upstream calls and carries on from there on the next page`, async () => {
    await start();
    const mine = seed(2, { user_id: 'rare' }, 'rare');
    seed(MAX_SCAN_CALLS * 100 + 50, { user_id: 'common' }, 'common');

    const first = await list({ first: 5, userId: 'rare' });
    // Nothing in the first 1000: no edges, but a next page and a cursor past what was scanned.
    expect(first.edges).toEqual([]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(first.pageInfo.endCursor).toEqual(expect.any(String));
    expect(gets()).toHaveLength(MAX_SCAN_CALLS);

    fake.requests.length = 0;
    const next = await list({ first: 5, userId: 'rare', after: first.pageInfo.endCursor });
    expect(next.edges.map((e) => e.node.id)).toEqual(mine);
    expect(next.pageInfo.hasNextPage).toBe(false);
    // One read from the cursor's own item on reaches the end.
    expect(windows()).toEqual(['999+100']);
  });

  it('keeps a cursor valid when memories before it, and the memory itself, are deleted', async () => {
    await start();
    const ids = seed(10);
    const page = await list({ first: 4 });
    // Delete two before the cursor and the cursor's own memory.
    for (const id of [ids[0]!, ids[2]!, ids[3]!]) dataOf(await del(id));
    fake.requests.length = 0;
    const next = await list({ first: 3, after: page.pageInfo.endCursor });
    expect(next.edges.map((e) => e.node.id)).toEqual(ids.slice(4, 7));
    // The hint (offset 3) now holds ids[6]: one read from there, one read back to re-synchronise.
    expect(windows()).toEqual(['3+5', '0+3']);
  });

  it('keeps a cursor on its memory when newer memories arrive before it', async () => {
    await start();
    const ids = seed(6);
    const page = await list({ first: 2 });
    seed(3, {}, 'newer');
    fake.requests.length = 0;
    const rest = await list({ first: 10, after: page.pageInfo.endCursor });
    expect(rest.edges.map((e) => e.node.id)).toEqual(ids.slice(2));
    // The hint (offset 1) now holds a newer memory: the walk forward is served by the same read.
    expect(windows()).toEqual(['1+12']);
  });

  it('shows memories sharing the deleted cursor memory\'s timestamp again rather than skipping one', async () => {
    await start();
    const at = '2026-01-01T00:00:00.000Z';
    const older = fake.seedMemory(API_KEYS[0], { memory: 'older', created_at: '2025-12-31T00:00:00.000Z', teamspace: TEAMSPACES[0] });
    const tied = [0, 1, 2].map((i) => fake.seedMemory(API_KEYS[0], { memory: `tied ${i}`, created_at: at, teamspace: TEAMSPACES[0] })).reverse();
    const page = await list({ first: 2 });
    expect(page.edges.map((e) => e.node.id)).toEqual(tied.slice(0, 2));
    dataOf(await del(tied[1]!));
    const next = await list({ first: 5, after: page.pageInfo.endCursor });
    expect(next.edges.map((e) => e.node.id)).toEqual([tied[0], tied[2], older]);
  });

  it('answers BAD_USER_INPUT on after when the list moved further than a bounded scan can follow', async () => {
    await start();
    seed(3);
    const page = await list({ first: 1 });
    seed(MAX_SCAN_CALLS * 100 + 100, {}, 'newer');
    fake.requests.length = 0;
    const res = await run(LIST, { first: 1, after: page.pageInfo.endCursor });
    expect(errorOf(res).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(gets()).toHaveLength(MAX_SCAN_CALLS);
  });

  it('refuses a cursor of another list', async () => {
    await start();
    const foreign = Buffer.from(JSON.stringify({ k: 'cortex:userMemories', t: '2026-01-01T00:00:00Z', id: 'x', o: 1 })).toString('base64url');
    expect(errorOf(await run(LIST, { first: 1, after: foreign })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(fake.requests).toEqual([]);
  });
});

describe('datagrid: end-user tokens', () => {
  it('lists only the user\'s own memories, and deletes only those, checking ownership in the list first', async () => {
    await start();
    const [theirs] = seed(1, { user_id: 'someone-else' });
    const [mine] = seed(1, { user_id: 'ann' });
    const token = await userToken('ann');

    const page = dataOf(await h!.gateway.execute<any>(LIST, { first: 10 }, { token })).userMemories as MemoryPage;
    expect(page.edges.map((e) => e.node.id)).toEqual([mine]);

    fake.requests.length = 0;
    const refused = await h!.gateway.execute(DELETE, { id: theirs }, { token });
    expect(errorOf(refused).extensions?.code).toBe('NOT_FOUND');
    // Looked up, never deleted.
    expect(fake.requests.map((r) => r.method)).toEqual(['GET']);

    fake.requests.length = 0;
    const done = await h!.gateway.execute<any>(DELETE, { id: mine }, { token });
    expect(dataOf(done).deleteUserMemory).toEqual({ userMemoryId: mine, deleted: true, backend: 'DATAGRID' });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/user-memories', `DELETE /v1/user-memories/${mine}`]);
    expect((await list({ first: 10 })).edges.map((e) => e.node.id)).toEqual([theirs]);
  });
});

describe('datagrid: faults', () => {
  it('honours a 429 Retry-After, then succeeds', async () => {
    await start();
    seed(2);
    fake.rateLimit({ retryAfterSeconds: 1 });
    const { value: page, ms } = await timed(() => list({ first: 5 }));
    expect(page.edges).toHaveLength(2);
    expect(fake.requests).toHaveLength(2);
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(3000);
  });

  it('waits out Datagrid\'s own window (Retry-After with X-RateLimit-*, per path and method) and succeeds', async () => {
    await start({}, { rateLimitPolicy: { limit: 2, windowSeconds: 1 } });
    const [id] = seed(1);
    await list({ first: 5 });
    await list({ first: 6 });
    // The list window is full; a delete has its own (§2.5) and goes through at once.
    const { ms: deleteMs } = await timed(async () => dataOf(await del(id!)));
    expect(deleteMs).toBeLessThan(900);
    const { value: page, ms } = await timed(() => list({ first: 7 }));
    expect(page.edges).toEqual([]);
    expect(gets()).toHaveLength(4);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3000);
  });

  it('does not wait for a Retry-After beyond UPSTREAM_MAX_RETRY_AFTER_MS: UPSTREAM_ERROR with retryAfter', async () => {
    await start({ UPSTREAM_MAX_RETRY_AFTER_MS: '2000' });
    fake.rateLimit({ retryAfterSeconds: 30 });
    const { value: res, ms } = await timed(() => run(LIST, { first: 5 }));
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 429, retryAfter: 30 });
    expect(fake.requests).toHaveLength(1);
    expect(ms).toBeLessThan(1000);
    expectNoLeak(res);
  });

  it.each([502, 503, 504] as const)('retries a %i and succeeds', async (status) => {
    await start();
    seed(1);
    fake.serverError({ status });
    expect((await list({ first: 5 })).edges).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);
  });

  it('gives up on a lasting 503 after UPSTREAM_MAX_RETRIES: UPSTREAM_ERROR 503', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '2' });
    fake.serverError({ status: 503, times: 5 });
    const res = await run(LIST, { first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 503 });
    expect(fake.requests).toHaveLength(3);
    expectNoLeak(res);
  });

  it('does not retry a 500: UPSTREAM_ERROR 500', async () => {
    await start();
    fake.serverError({ status: 500, times: 5 });
    const res = await run(LIST, { first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 500 });
    expect(fake.requests).toHaveLength(1);
    expectNoLeak(res);
  });

  it('answers UPSTREAM_TIMEOUT in bounded time when Datagrid is slower than DATAGRID_TIMEOUT_MS', async () => {
    await start({ DATAGRID_TIMEOUT_MS: '200' });
    fake.slow({ delayMs: 5000, times: 5 });
    const { value: res, ms } = await timed(() => run(LIST, { first: 5 }));
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', provider: 'datagrid' });
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1500);
    expect(fake.requests).toHaveLength(1);
  });

  it('retries a dropped connection, then answers UPSTREAM_UNAVAILABLE', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '2' });
    seed(1);
    fake.dropConnection();
    expect((await list({ first: 5 })).edges).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);

    fake.requests.length = 0;
    fake.dropConnection({ times: 5 });
    const res = await run(LIST, { first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'datagrid' });
    expect(fake.requests).toHaveLength(3);
  });

  it('maps malformed JSON to UPSTREAM_ERROR without echoing it', async () => {
    await start();
    fake.malformedJson();
    const res = await run(LIST, { first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: 200 });
    expect(fake.requests).toHaveLength(1);
    expectNoLeak(res);
  });

  it('never repeats a create after 502/503/504 or a dropped connection, only after a 429', async () => {
    await start();
    const input = { content: 'prefers aisle seats', agentId: 'agent-1' };
    for (const status of [502, 503, 504] as const) {
      fake.requests.length = 0;
      fake.serverError({ status });
      expect(errorOf(await run(ADD, { input })).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'datagrid', upstreamStatus: status });
      expect(fake.requests).toHaveLength(1);
    }
    // Applied, answer lost: one memory, one request, and the client is told it is unknown.
    fake.requests.length = 0;
    fake.dropConnection({ afterProcessing: true });
    expect(errorOf(await run(ADD, { input })).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'datagrid' });
    expect(fake.requests).toHaveLength(1);
    expect((await list({ first: 10 })).edges).toHaveLength(1);

    // A 429 was refused before any work: repeated after Retry-After, one memory more.
    fake.requests.length = 0;
    fake.rateLimit({ retryAfterSeconds: 0 });
    const added = dataOf(await run(ADD, { input })).addUserMemory;
    expect(fake.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect((await list({ first: 10 })).edges.map((e) => e.node.id)).toContain(added.id);
    expect((await list({ first: 10 })).edges).toHaveLength(2);
  });

  it('opens the circuit after UPSTREAM_BREAKER_THRESHOLD failures, fails fast, and closes it after the cooldown', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '0', UPSTREAM_BREAKER_THRESHOLD: '2', UPSTREAM_BREAKER_COOLDOWN_MS: '500' });
    seed(1);
    fake.serverError({ status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      expect(errorOf(await run(LIST, { first: 5 })).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 500 });
    }
    expect(fake.requests).toHaveLength(2);

    const { value: open, ms } = await timed(() => run(LIST, { first: 5 }));
    expect(errorOf(open).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'datagrid', retryAfter: 1 });
    expect(ms).toBeLessThan(200);
    expect(errorOf(await del('umem_any')).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'datagrid' });
    expect(fake.requests).toHaveLength(2);
    // The circuit is per credential: the other tenant's key is still served.
    expect((await list({ first: 5 }, 1)).edges).toEqual([]);
    expect(fake.requests).toHaveLength(3);

    await sleep(600);
    expect((await list({ first: 5 })).edges).toHaveLength(1);
    expect(fake.requests).toHaveLength(4);
  });

  it('cancels the upstream call when the client goes away', async () => {
    await start();
    fake.slow({ delayMs: 5000 });
    const upstream = watchUpstreamErrors(fake.url);
    try {
      const request = abortableRequest(h!.gateway, h!.tenants[0].token, LIST, { first: 5 });
      await waitUntil(() => fake.requests.length > 0);
      expect(fake.requests).toHaveLength(1);
      const abortedAt = performance.now();
      request.abort();
      await request.done;
      await waitUntil(() => upstream.errors.length > 0);
      expect(upstream.errors).toEqual(['/v1/user-memories?limit=6&offset=0 AbortError']);
      // Well before the fake's 5 s answer.
      expect(performance.now() - abortedAt).toBeLessThan(2500);
      // Not retried after the client left.
      expect(fake.requests).toHaveLength(1);
    } finally {
      upstream.stop();
    }
  });
});

describe('datagrid: deletes', () => {
  it('answers NOT_FOUND for "." and ".." ids without a call (the URL would address another resource)', async () => {
    await start();
    seed(1);
    for (const id of ['..', '.', '%2E%2e']) {
      expect(errorOf(await del(id)).extensions?.code).toBe('NOT_FOUND');
    }
    expect(fake.requests).toHaveLength(0);
    expect((await list({ first: 5 })).edges).toHaveLength(1);
  });

  it('reports a delete as done when the first attempt was applied but its answer lost, and the retry meets 404', async () => {
    await start();
    const [id, kept] = seed(2);
    fake.dropConnection({ afterProcessing: true });
    const res = await del(id!);
    expect(dataOf(res).deleteUserMemory).toEqual({ userMemoryId: id, deleted: true, backend: 'DATAGRID' });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`DELETE /v1/user-memories/${id}`, `DELETE /v1/user-memories/${id}`]);
    expect((await list({ first: 5 })).edges.map((e) => e.node.id)).toEqual([kept]);
  });

  it('answers NOT_FOUND for an unknown id, unless a lost answer made the 404 ambiguous', async () => {
    await start();
    seed(1);
    // A dropped connection may or may not have been processed: the gateway cannot tell, so the
    // retry's 404 counts as "gone" (the id does not exist either way).
    fake.dropConnection();
    const ambiguous = await del('umem_never_existed');
    expect(dataOf(ambiguous).deleteUserMemory.deleted).toBe(true);
    fake.requests.length = 0;
    const plain = await del('umem_never_existed');
    expect(errorOf(plain).extensions?.code).toBe('NOT_FOUND');
    expect(fake.requests).toHaveLength(1);
  });

  it('leaves the memory in place when every attempt failed before reaching Datagrid', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '1' });
    const [id] = seed(1);
    fake.dropConnection({ times: 2 });
    const res = await del(id!);
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'datagrid' });
    expect((await list({ first: 5 })).edges.map((e) => e.node.id)).toEqual([id]);
  });

  it('audits every proxied delete with its outcome', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '0' });
    const [a, b, c] = seed(3);
    dataOf(await del(a!));
    errorOf(await del('umem_missing'));
    fake.serverError({ status: 500 });
    errorOf(await del(b!));
    fake.slow({ delayMs: 50 });
    dataOf(await del(c!));
    const audit = dataOf(await run(AUDIT, {})).deletionAudit.edges.map((e: any) => e.node);
    expect(audit).toEqual(
      [
        { targetId: c, outcome: 'deleted' },
        { targetId: b, outcome: 'upstream_error' },
        { targetId: 'umem_missing', outcome: 'not_found' },
        { targetId: a, outcome: 'deleted' },
      ].map((n) => ({ operation: 'deleteUserMemory', backend: 'DATAGRID', actor: expect.stringMatching(/^key:/), ...n })),
    );
  });
});
