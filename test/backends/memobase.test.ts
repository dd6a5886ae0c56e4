import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_TOPK } from '../../src/backends/memobase/store.js';
import { setTenant } from '../../src/tenants.js';
import type { FamilyHarness, UserEventSeed } from '../contract/harness.js';
import { providerHarness } from '../contract/provider-harness.js';
import type { FakeResponse, FaultOptions, RecordedRequest } from '../fakes/fake-server.js';
import { MemobaseFake } from '../fakes/memobase.js';
import { dataOf, errorOf, type GraphQLResponse } from '../helpers/gateway.js';
import { DELETE, LIST } from '../contract/user-events.contract.js';
import { abortableRequest, timed, waitUntil, watchUpstreamErrors } from '../helpers/upstream.js';

/**
 * Memobase through the gateway: GraphQL in, the fake (../shared/upstreams/README.md §1) out.
 * Each test asserts what the client sees and what Memobase received.
 */

const API_KEYS = ['memobase-project-token-a', 'memobase-project-token-b'] as const;

/** The fake plus a way to answer with any documented body, for the variants it does not produce. */
class MemobaseVariants extends MemobaseFake {
  answer(response: FakeResponse, o: FaultOptions = {}): void {
    this.inject(o, () => response);
  }
}

const CREATE = /* GraphQL */ `
  mutation Create($userId: ID!, $input: CreateUserEventInput!) {
    createUserEvent(userId: $userId, input: $input) { id }
  }
`;

const AUDIT = /* GraphQL */ `
  query Audit($userId: String) {
    deletionAudit(userId: $userId) { edges { node { operation backend targetId userId outcome } } }
  }
`;

interface EventPage {
  edges: { cursor: string; node: { id: string; userId: string; eventTip: string | null; eventTags: unknown[]; profileDelta: unknown[]; createdAt: string; updatedAt: string; backend: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

let h: FamilyHarness<UserEventSeed> | undefined;
let fake: MemobaseVariants;
let user: string;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A gateway whose two tenants use Memobase with their own project tokens. */
async function start(env: Record<string, string> = {}) {
  fake = await new MemobaseVariants({ apiKeys: [...API_KEYS] }).listen();
  user = randomUUID();
  h = await providerHarness<UserEventSeed>({
    backend: 'MEMOBASE',
    canCreate: false,
    env: { UPSTREAM_MAX_RETRIES: '2', UPSTREAM_RETRY_BUDGET_MS: '5000', UPSTREAM_MAX_RETRY_AFTER_MS: '2000', ...env },
    tenant: (index) => ({ userEvents: 'memobase', settings: { 'memobase.url': fake.url, 'memobase.apiKey': API_KEYS[index] } }),
    seed: async (index, { userId, eventTip }) => fake.seedEvent(API_KEYS[index], userId, { eventTip }),
    close: () => fake.close(),
  });
  return h;
}

const run = (query: string, variables: Record<string, unknown>, tenant: 0 | 1 = 0) =>
  h!.gateway.execute<any>(query, variables, { token: h!.tenants[tenant].token });

const list = async (variables: Record<string, unknown>, tenant: 0 | 1 = 0): Promise<EventPage> =>
  dataOf(await run(LIST, { userId: user, ...variables }, tenant)).userEvents;

const del = (eventId: string, tenant: 0 | 1 = 0) => run(DELETE, { userId: user, eventId }, tenant);

/** Seeds `n` events for `user` in tenant 0's project, oldest first; returns their ids newest first. */
function seed(n: number, prefix = 'event'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(fake.seedEvent(API_KEYS[0], user, { eventTip: `${prefix} ${i}` }));
  return ids.reverse();
}

const listCalls = () => fake.requests.filter((r) => r.method === 'GET');
const topks = (requests: RecordedRequest[]) => requests.map((r) => r.query.get('topk'));

/** No credential and no raw upstream body ever reaches the client or the logs. */
function expectNoLeak(response: GraphQLResponse) {
  const seen = JSON.stringify(response.body) + h!.gateway.logs.join('\n');
  for (const secret of [...API_KEYS, 'Sorry, we have encountered', 'Too Many Requests', 'Bad Gateway', '"truncated"']) {
    expect(seen).not.toContain(secret);
  }
}

describe('memobase: the requests the gateway sends', () => {
  it('lists with GET /api/v1/users/event/{user_id}?topk= under the tenant\'s own Bearer token, one call per page', async () => {
    await start();
    const ids = seed(5);
    fake.seedEvent(API_KEYS[1], user, { eventTip: 'tenant b' });

    const page = await list({ userId: user.toUpperCase(), first: 3 });
    expect(page.edges.map((e) => e.node.id)).toEqual(ids.slice(0, 3));
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'GET', path: `/api/v1/users/event/${user}`, body: undefined });
    // The page plus one more, to learn whether more follow; never max_token_size (§1.3).
    expect([...req!.query.entries()]).toEqual([['topk', '4']]);
    expect(req!.headers.authorization).toBe(`Bearer ${API_KEYS[0]}`);
    expect(req!.headers.accept).toBe('application/json');

    const next = await list({ first: 3, after: page.pageInfo.endCursor });
    expect(next.edges.map((e) => e.node.id)).toEqual(ids.slice(3));
    expect(next.pageInfo.hasNextPage).toBe(false);
    expect(topks(fake.requests)).toEqual(['4', '7']);

    const other = await list({ first: 10 }, 1);
    expect(other.edges.map((e) => e.node.eventTip)).toEqual(['tenant b']);
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${API_KEYS[1]}`);
  });

  it('deletes with DELETE /api/v1/users/event/{user_id}/{event_id}, no query, no body', async () => {
    await start();
    const [id] = seed(1);
    const res = await del(id!.toUpperCase());
    expect(dataOf(res).deleteUserEvent).toEqual({ userId: user, eventId: id, deleted: true, backend: 'MEMOBASE' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'DELETE', path: `/api/v1/users/event/${user}/${id}`, body: undefined });
    expect([...fake.requests[0]!.query.keys()]).toEqual([]);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${API_KEYS[0]}`);
    expect((await list({ first: 10 })).edges).toEqual([]);
  });

  it('answers createUserEvent with NOT_SUPPORTED without any upstream call, so nothing can be repeated or half-written', async () => {
    await start();
    const res = await run(CREATE, { userId: user, input: { eventTip: 'asked about flights' } });
    expect(errorOf(res).extensions).toMatchObject({ code: 'NOT_SUPPORTED', provider: 'memobase' });
    expect(fake.requests).toEqual([]);
  });
});

describe('memobase: response variants (§1.3)', () => {
  it('maps event_data: profile_delta attributes to topic/subTopic, event_tags, null fields to empty', async () => {
    await start();
    fake.seedEvent(API_KEYS[0], user, {});
    fake.seedEvent(API_KEYS[0], user, {
      eventTip: '- planning a trip to Kyoto // plan',
      eventTags: [{ tag: 'emotion', value: 'excited' }],
      profileDelta: [
        { content: 'Prefers vegetarian food', attributes: { topic: 'interest', sub_topic: 'food' } },
        { content: 'Lives in Lisbon', attributes: { topic: 'basic_info' } },
        { content: 'No attributes', attributes: null },
        { content: 'Odd attributes', attributes: { topic: 7, sub_topic: ['x'] } },
      ],
    });
    const page = await list({ first: 10 });
    expect(page.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({
        userId: user,
        eventTip: '- planning a trip to Kyoto // plan',
        eventTags: [{ tag: 'emotion', value: 'excited' }],
        profileDelta: [
          { content: 'Prefers vegetarian food', topic: 'interest', subTopic: 'food' },
          { content: 'Lives in Lisbon', topic: 'basic_info', subTopic: null },
          { content: 'No attributes', topic: null, subTopic: null },
          { content: 'Odd attributes', topic: null, subTopic: null },
        ],
        backend: 'MEMOBASE',
      }),
      expect.objectContaining({ eventTip: null, eventTags: [], profileDelta: [] }),
    ]);
  });

  it('reads the documented example body: microsecond timestamps, similarity and gists ignored', async () => {
    await start();
    // The `success` example of memobase.yaml, verbatim.
    fake.answer({
      status: 200,
      json: {
        data: {
          events: [
            {
              id: '3f1c2b9a-6d4e-4f8a-9b1c-2d3e4f5a6b7c',
              event_data: {
                profile_delta: [{ content: 'Prefers vegetarian food', attributes: { topic: 'interest', sub_topic: 'food' } }],
                event_tip: '- User said they are planning a trip to Kyoto // plan',
                event_tags: [{ tag: 'emotion', value: 'excited' }],
              },
              created_at: '2026-01-05T09:12:44.120000Z',
              updated_at: '2026-01-05T09:12:44.120000Z',
              similarity: null,
            },
            {
              id: '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d',
              event_data: { profile_delta: [], event_tip: null, event_tags: null },
              created_at: '2026-01-02T18:01:03.000000Z',
              updated_at: '2026-01-03T07:30:00.000000Z',
              similarity: null,
            },
          ],
          gists: [],
        },
        errno: 0,
        errmsg: '',
      },
    });
    const page = await list({ first: 10 });
    expect(page.edges.map((e) => [e.node.id, e.node.createdAt, e.node.updatedAt, e.node.profileDelta])).toEqual([
      ['3f1c2b9a-6d4e-4f8a-9b1c-2d3e4f5a6b7c', '2026-01-05T09:12:44.120Z', '2026-01-05T09:12:44.120Z', [{ content: 'Prefers vegetarian food', topic: 'interest', subTopic: 'food' }]],
      ['7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d', '2026-01-02T18:01:03.000Z', '2026-01-03T07:30:00.000Z', []],
    ]);
  });

  it('accepts every timestamp spelling Python produces and orders by the microsecond', async () => {
    await start();
    const event = (id: string, created_at: string, extra: Record<string, unknown> = {}) => ({ id, created_at, ...extra });
    const body = {
      status: 200,
      json: {
        errno: 0,
        errmsg: '',
        // Unordered on purpose; no `gists`, no `similarity`, `event_data`/`updated_at` missing.
        data: {
          events: [
            event('00000000-0000-4000-8000-000000000001', '2026-01-05T09:12:44.120100Z'),
            event('00000000-0000-4000-8000-000000000002', '2026-01-05T09:12:44.120500+00:00', { updated_at: '2026-01-06T00:00:00+00:00' }),
            event('00000000-0000-4000-8000-000000000003', '2026-01-05T10:12:44+01:00', { updated_at: null }),
            event('00000000-0000-4000-8000-000000000004', '2026-01-05T09:12:44.119999'),
            event('00000000-0000-4000-8000-000000000005', '2026-01-05T09:12:45Z', { event_data: null }),
          ],
        },
      },
    } satisfies FakeResponse;
    fake.answer(body, { times: 10 });
    const page = await list({ first: 10 });
    expect(page.edges.map((e) => [e.node.id.slice(-1), e.node.createdAt])).toEqual([
      ['5', '2026-01-05T09:12:45.000Z'],
      ['2', '2026-01-05T09:12:44.120Z'],
      ['1', '2026-01-05T09:12:44.120Z'],
      ['4', '2026-01-05T09:12:44.119Z'],
      ['3', '2026-01-05T09:12:44.000Z'],
    ]);
    expect(page.edges[1]!.node.updatedAt).toBe('2026-01-06T00:00:00.000Z');
    expect(page.edges[2]!.node.updatedAt).toBe(page.edges[2]!.node.createdAt);
    // Cursors keep the microseconds: paging one by one splits the two events of the same millisecond.
    const one = await list({ first: 1, after: page.edges[1]!.cursor });
    expect(one.edges.map((e) => e.node.id.slice(-1))).toEqual(['1']);
  });

  it('does not list events older than 21 days: Memobase does not return them (§1.3)', async () => {
    await start();
    fake.seedEvent(API_KEYS[0], user, { eventTip: 'old', createdAt: new Date(Date.now() - 22 * 24 * 3600 * 1000) });
    fake.seedEvent(API_KEYS[0], user, { eventTip: 'recent', createdAt: new Date(Date.now() - 20 * 24 * 3600 * 1000) });
    expect((await list({ first: 10 })).edges.map((e) => e.node.eventTip)).toEqual(['recent']);
  });

  it('maps errno ≠ 0 on HTTP 200 to UPSTREAM_ERROR with upstreamStatus = errno, without retrying', async () => {
    await start();
    fake.appError(); // errno 500, as global_wrapper_middleware sends it (§1.2)
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 500 });
    expect(fake.requests).toHaveLength(1);
    expectNoLeak(res);

    const [id] = seed(1);
    fake.appError({ errno: 503, errmsg: 'quota exhausted' });
    const deleted = await del(id!);
    expect(errorOf(deleted).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 503 });
    expect(JSON.stringify(deleted.body)).not.toContain('quota exhausted');
    expect((await list({ first: 5 })).edges.map((e) => e.node.id)).toEqual([id]);
  });

  it('maps errno 404 on delete to NOT_FOUND', async () => {
    await start();
    seed(1);
    const res = await del(randomUUID());
    expect(errorOf(res).extensions?.code).toBe('NOT_FOUND');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps HTTP 401 (a revoked project token) to UPSTREAM_ERROR 401 without showing the token', async () => {
    await start();
    await setTenant(h!.gateway.app.prisma, h!.gateway.config, h!.tenants[1].id, { settings: { 'memobase.apiKey': 'revoked-project-token' } });
    const res = await run(LIST, { userId: user, first: 5 }, 1);
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer revoked-project-token');
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 401 });
    expect(JSON.stringify(res.body) + h!.gateway.logs.join('\n')).not.toContain('revoked-project-token');
    expect(JSON.stringify(res.body)).not.toContain('Unauthorized access');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps HTTP 422 (request validation) to UPSTREAM_ERROR 422', async () => {
    await start();
    fake.answer({ status: 422, json: { detail: [{ loc: ['path', 'user_id'], msg: 'Input should be a valid UUID', type: 'uuid_parsing' }] } });
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 422 });
    expect(JSON.stringify(res.body)).not.toContain('uuid_parsing');
  });

  it('maps a body that is not the envelope, or events that are not events, to UPSTREAM_ERROR', async () => {
    await start();
    fake.answer({ status: 200, json: { detail: 'Not Found' } });
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 200 });
    fake.answer({ status: 200, json: { errno: 0, errmsg: '', data: { events: [{ id: 'x', created_at: 'yesterday', secret: 'private words' }] } } });
    const bad = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(bad).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 200 });
    expect(JSON.stringify(bad.body)).not.toMatch(/private words|yesterday/);
  });
});

describe('memobase: first/after on top of topk', () => {
  it('reads a long list page by page with one call per page, topk growing with the position', async () => {
    await start();
    const ids = seed(25);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await list({ first: 10, after });
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(ids);
    expect(topks(listCalls())).toEqual(['11', '21', '31']);
  });

  it('keeps a cursor on the same position when newer events arrive, asking for more when the answer comes back short', async () => {
    await start();
    const ids = seed(6);
    const first = await list({ first: 2 });
    expect(first.edges.map((e) => e.node.id)).toEqual(ids.slice(0, 2));
    seed(3, 'newer');
    fake.requests.length = 0;
    const next = await list({ first: 2, after: first.pageInfo.endCursor });
    expect(next.edges.map((e) => e.node.id)).toEqual(ids.slice(2, 4));
    expect(next.pageInfo.hasNextPage).toBe(true);
    // topk 5 returns the 3 newer events and the 2 already seen: short, so topk doubles once.
    expect(topks(listCalls())).toEqual(['5', '10']);
    const last = await list({ first: 2, after: next.pageInfo.endCursor });
    expect(last.edges.map((e) => e.node.id)).toEqual(ids.slice(4));
    expect(last.pageInfo.hasNextPage).toBe(false);
  });

  it('pages through events with the same created_at without gaps or repeats', async () => {
    await start();
    const at = new Date(Date.now() - 60_000);
    const ids = Array.from({ length: 4 }, (_, i) => fake.seedEvent(API_KEYS[0], user, { eventTip: `tied ${i}`, createdAt: at }));
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const page = await list({ first: 1, after });
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    // Memobase orders ties arbitrarily; the gateway orders them by id, newest-first lists' tie-break.
    expect(seen).toEqual([...ids].sort().reverse());
  });

  it(`reaches the newest ${MAX_TOPK} events of a user and never asks for a larger topk`, async () => {
    await start();
    const ids = seed(MAX_TOPK + 5);
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 20; guard++) {
      const page = await list({ first: 100, after });
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(ids.slice(0, MAX_TOPK));
    expect(Math.max(...topks(listCalls()).map(Number))).toBe(MAX_TOPK);
    expect(listCalls()).toHaveLength(10);
  });
});

describe('memobase: faults', () => {
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

  it('does not wait for a Retry-After beyond UPSTREAM_MAX_RETRY_AFTER_MS: UPSTREAM_ERROR with retryAfter', async () => {
    await start({ UPSTREAM_MAX_RETRY_AFTER_MS: '2000' });
    fake.rateLimit({ retryAfterSeconds: 30 });
    const { value: res, ms } = await timed(() => run(LIST, { userId: user, first: 5 }));
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 429, retryAfter: 30 });
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
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 503 });
    expect(fake.requests).toHaveLength(3);
    expectNoLeak(res);
  });

  it('does not retry a 500: UPSTREAM_ERROR 500', async () => {
    await start();
    fake.serverError({ status: 500, times: 5 });
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 500 });
    expect(fake.requests).toHaveLength(1);
  });

  it('answers UPSTREAM_TIMEOUT in bounded time when Memobase is slower than MEMOBASE_TIMEOUT_MS', async () => {
    await start({ MEMOBASE_TIMEOUT_MS: '200' });
    fake.slow({ delayMs: 5000, times: 5 });
    const { value: res, ms } = await timed(() => run(LIST, { userId: user, first: 5 }));
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', provider: 'memobase' });
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1000);
  });

  it('retries a dropped connection, then answers UPSTREAM_UNAVAILABLE', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '2' });
    seed(1);
    fake.dropConnection();
    expect((await list({ first: 5 })).edges).toHaveLength(1);
    expect(fake.requests).toHaveLength(2);

    fake.requests.length = 0;
    fake.dropConnection({ times: 5 });
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'memobase' });
    expect(fake.requests).toHaveLength(3);
  });

  it('maps malformed JSON to UPSTREAM_ERROR without echoing it', async () => {
    await start();
    fake.malformedJson();
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 200 });
    expect(fake.requests).toHaveLength(1);
    expectNoLeak(res);
  });

  it('refuses an answer larger than the client reads (10 MB): UPSTREAM_ERROR naming the provider', async () => {
    await start();
    fake.answer({ status: 200, json: { errno: 0, errmsg: 'x'.repeat(11 * 1024 * 1024), data: { events: [] } } });
    const res = await run(LIST, { userId: user, first: 5 });
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 200 });
    expect(fake.requests).toHaveLength(1);
  });

  it('opens the circuit after UPSTREAM_BREAKER_THRESHOLD failures, fails fast, and closes it after the cooldown', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '0', UPSTREAM_BREAKER_THRESHOLD: '2', UPSTREAM_BREAKER_COOLDOWN_MS: '500' });
    seed(1);
    fake.serverError({ status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      expect(errorOf(await run(LIST, { userId: user, first: 5 })).extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 500 });
    }
    expect(fake.requests).toHaveLength(2);

    const { value: open, ms } = await timed(() => run(LIST, { userId: user, first: 5 }));
    expect(errorOf(open).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'memobase', retryAfter: 1 });
    expect(ms).toBeLessThan(200);
    expect(fake.requests).toHaveLength(2);
    // The circuit is per credential: the other tenant's project is still served.
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
      const request = abortableRequest(h!.gateway, h!.tenants[0].token, LIST, { userId: user, first: 5 });
      await waitUntil(() => fake.requests.length > 0);
      expect(fake.requests).toHaveLength(1);
      const abortedAt = performance.now();
      request.abort();
      await request.done;
      await waitUntil(() => upstream.errors.length > 0);
      expect(upstream.errors).toEqual([`/api/v1/users/event/${user}?topk=6 AbortError`]);
      expect(performance.now() - abortedAt).toBeLessThan(1000);
      // Not retried after the client left.
      expect(fake.requests).toHaveLength(1);
    } finally {
      upstream.stop();
    }
  });
});

describe('memobase: deletes', () => {
  it('reports a delete as done when the first attempt was applied but its answer lost, and the retry meets errno 404', async () => {
    await start();
    const [id, kept] = seed(2);
    fake.dropConnection({ afterProcessing: true });
    const res = await del(id!);
    expect(dataOf(res).deleteUserEvent).toEqual({ userId: user, eventId: id, deleted: true, backend: 'MEMOBASE' });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `DELETE /api/v1/users/event/${user}/${id}`,
      `DELETE /api/v1/users/event/${user}/${id}`,
    ]);
    expect((await list({ first: 5 })).edges.map((e) => e.node.id)).toEqual([kept]);
  });

  it('leaves the event in place when every attempt failed before reaching Memobase', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '1' });
    const [id] = seed(1);
    fake.dropConnection({ times: 2 });
    const res = await del(id!);
    expect(errorOf(res).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'memobase' });
    expect((await list({ first: 5 })).edges.map((e) => e.node.id)).toEqual([id]);
  });

  it('audits every proxied delete with its outcome', async () => {
    await start({ UPSTREAM_MAX_RETRIES: '0' });
    const [a, b, c] = seed(3);
    const missing = randomUUID();
    dataOf(await del(a!));
    errorOf(await del(missing));
    fake.serverError({ status: 500 });
    errorOf(await del(b!));
    fake.slow({ delayMs: 50 });
    dataOf(await del(c!));
    const audit = dataOf(await run(AUDIT, { userId: user })).deletionAudit.edges.map((e: any) => e.node);
    expect(audit).toEqual(
      [
        { targetId: c, outcome: 'deleted' },
        { targetId: b, outcome: 'upstream_error' },
        { targetId: missing, outcome: 'not_found' },
        { targetId: a, outcome: 'deleted' },
      ].map((n) => ({ operation: 'deleteUserEvent', backend: 'MEMOBASE', userId: user, ...n })),
    );
  });
});
