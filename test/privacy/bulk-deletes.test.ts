import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeServer } from '../fakes/fake-server.js';
import { dataOf, errorOf, type TestGateway } from '../helpers/gateway.js';
import { CORTEX, LOCAL, PLACEMENT, PROVIDER_KEYS, PROXIED, twoTenants, type ProviderFakes, type Routing, type TwoTenants, type Who } from '../helpers/providers.js';
import type { TestStore } from '../helpers/databases.js';

/**
 * Bulk deletes on the local store and on each provider's fake: per-id results in input order
 * with the single delete's code, repeats once, other tenants' ids NOT_FOUND, one audit record per
 * id, 1..100 ids, a 429 in the middle ridden out, and at most 8 calls in flight at the provider.
 */

interface Case {
  name: string;
  routing: Routing;
  /** The local store the gateway runs on (SQLite unless named). */
  store?: TestStore;
  field: 'deleteUserEvents' | 'deleteUserMemories' | 'deleteMemories';
  idsArg: string;
  mutation: string;
  vars: (user: string, ids: string[]) => Record<string, unknown>;
  /** Stores `n` items of `user` for a tenant; returns their ids. */
  seed: (t: TwoTenants, who: Who, user: string, n: number) => Promise<string[]>;
  /** The ids of `user`'s items the tenant sees. */
  list: (t: TwoTenants, who: Who, user: string) => Promise<string[]>;
  missingId: () => string;
  fake?: (f: ProviderFakes) => FakeServer;
  /** The request line of the upstream delete of `id`, for arming a fault on it. */
  deleteLine?: (id: string) => RegExp;
}

const key = (t: TwoTenants, who: Who) => (who === 'a' ? t.keyA : t.keyB);
const ids = (connection: { edges: { node: { id: string } }[] }) => connection.edges.map((e) => e.node.id);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const EVENTS = `mutation($u: ID!, $ids: [ID!]!) { deleteUserEvents(userId: $u, eventIds: $ids) { results { id deleted code message } deletedCount failedCount backend } }`;
const USER_MEMORIES = `mutation($ids: [ID!]!, $s: String) { deleteUserMemories(userMemoryIds: $ids, subTenantId: $s) { results { id deleted code message } deletedCount failedCount backend } }`;
const MEMORIES = `mutation($ids: [ID!]!, $u: String) { deleteMemories(memoryIds: $ids, userId: $u) { results { id deleted code message } deletedCount failedCount backend } }`;

async function createThrough(gateway: TestGateway, token: string, query: string, variables: Record<string, unknown>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((Object.values(dataOf(await gateway.execute<any>(query, variables, { token })))[0] as { id: string }).id);
  return out;
}

const localEvents: Pick<Case, 'seed' | 'list'> = {
  seed: (t, who, user, n) =>
    createThrough(t.gateway, key(t, who), `mutation($u: ID!) { createUserEvent(userId: $u, input: { eventTip: "bulk" }) { id } }`, { u: user }, n),
  list: async (t, who, user) => ids(dataOf(await t.gateway.execute<any>(`query($u: ID!) { userEvents(userId: $u, first: 100) { edges { node { id } } } }`, { u: user }, { token: key(t, who) })).userEvents),
};
const listUserMemories = async (t: TwoTenants, who: Who, user: string, bySubTenant = false) =>
  ids(
    dataOf(
      await t.gateway.execute<any>(
        `query($u: String, $s: String) { userMemories(userId: $u, subTenantId: $s, first: 100) { edges { node { id } } } }`,
        bySubTenant ? { s: user } : { u: user },
        { token: key(t, who) },
      ),
    ).userMemories,
  );
const listMemories = async (t: TwoTenants, who: Who, user: string) =>
  ids(dataOf(await t.gateway.execute<any>(`query($u: String) { memories(userId: $u, first: 100) { edges { node { id } } } }`, { u: user }, { token: key(t, who) })).memories);

const CASES: Case[] = [
  {
    name: 'user events, local store',
    routing: LOCAL,
    field: 'deleteUserEvents',
    idsArg: 'eventIds',
    mutation: EVENTS,
    vars: (u, list) => ({ u, ids: list }),
    ...localEvents,
    missingId: () => randomUUID(),
  },
  {
    name: 'user memories, local store',
    routing: LOCAL,
    field: 'deleteUserMemories',
    idsArg: 'userMemoryIds',
    mutation: USER_MEMORIES,
    vars: (_u, list) => ({ ids: list }),
    seed: (t, who, user, n) => createThrough(t.gateway, key(t, who), `mutation($u: String) { addUserMemory(input: { content: "bulk", userId: $u }) { id } }`, { u: user }, n),
    list: (t, who, user) => listUserMemories(t, who, user),
    missingId: () => `missing-${randomUUID()}`,
  },
  {
    name: 'memories, local store',
    routing: LOCAL,
    field: 'deleteMemories',
    idsArg: 'memoryIds',
    mutation: MEMORIES,
    vars: (u, list) => ({ ids: list, u }),
    seed: (t, who, user, n) => createThrough(t.gateway, key(t, who), `mutation($u: String!) { createMemory(input: { userId: $u, memory: "bulk" }) { id } }`, { u: user }, n),
    list: listMemories,
    missingId: () => `missing-${randomUUID()}`,
  },
  {
    name: 'user events, Memobase',
    routing: PROXIED,
    field: 'deleteUserEvents',
    idsArg: 'eventIds',
    mutation: EVENTS,
    vars: (u, list) => ({ u, ids: list }),
    seed: async (t, who, user, n) => Array.from({ length: n }, () => t.fakes.memobase.seedEvent(PROVIDER_KEYS[who].memobase, user, { eventTip: 'bulk' })),
    list: localEvents.list,
    missingId: () => randomUUID(),
    fake: (f) => f.memobase,
    deleteLine: (id) => new RegExp(`^DELETE .*/${escape(id)}$`),
  },
  {
    name: 'user memories, Datagrid',
    routing: PROXIED,
    field: 'deleteUserMemories',
    idsArg: 'userMemoryIds',
    mutation: USER_MEMORIES,
    vars: (_u, list) => ({ ids: list }),
    seed: async (t, who, user, n) =>
      Array.from({ length: n }, () => t.fakes.datagrid.seedMemory(PROVIDER_KEYS[who].datagrid, { memory: 'bulk', user_id: user, teamspace: PLACEMENT[who].teamspace })),
    list: (t, who, user) => listUserMemories(t, who, user),
    missingId: () => `umem_missing${randomUUID().replace(/-/g, '')}`,
    fake: (f) => f.datagrid,
    deleteLine: (id) => new RegExp(`^DELETE .*/${escape(id)}$`),
  },
  {
    name: 'user memories, Cortex',
    routing: CORTEX,
    field: 'deleteUserMemories',
    idsArg: 'userMemoryIds',
    mutation: USER_MEMORIES,
    vars: (u, list) => ({ ids: list, s: u }),
    seed: async (t, who, user, n) =>
      Array.from({ length: n }, () => t.fakes.cortex.seedMemory(PROVIDER_KEYS[who].cortex, { tenantId: PLACEMENT[who].cortexTenant, subTenantId: user, content: 'bulk' })),
    list: (t, who, user) => listUserMemories(t, who, user, true),
    missingId: () => `memory_missing${randomUUID().replace(/-/g, '')}`,
    fake: (f) => f.cortex,
  },
  {
    name: 'memories, Mielto',
    routing: PROXIED,
    field: 'deleteMemories',
    idsArg: 'memoryIds',
    mutation: MEMORIES,
    vars: (u, list) => ({ ids: list, u }),
    seed: async (t, who, user, n) =>
      Array.from({ length: n }, () => t.fakes.mielto.seedMemory(PROVIDER_KEYS[who].mielto, { user_id: user, memory: 'bulk', workspaceId: PLACEMENT[who].workspace })),
    list: listMemories,
    missingId: () => `mem_missing${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    fake: (f) => f.mielto,
    deleteLine: (id) => new RegExp(`^DELETE .*/${escape(id)}$`),
  },
];

const AUDIT = `query($u: String) { deletionAudit(userId: $u, first: 100) { edges { node { operation targetId outcome backend } } } }`;

/** The local store's cases run on PostgreSQL too: its batch is one statement in an interactive transaction there. */
const ALL_CASES: Case[] = [
  ...CASES,
  ...CASES.filter((c) => c.routing === LOCAL).map((c) => ({ ...c, name: c.name.replace('local store', 'local store on PostgreSQL'), store: 'postgresql' as const })),
];

describe.each(ALL_CASES)('bulk delete: $name', (c) => {
  let t: TwoTenants;
  beforeAll(async () => {
    t = await twoTenants(c.routing, { app: { store: c.store } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers per distinct id in input order with the single delete’s code, audits each id once, and leaves the other tenant alone', async () => {
    const user = randomUUID();
    const [a1, a2, a3] = await c.seed(t, 'a', user, 3);
    const [foreign] = await c.seed(t, 'b', user, 1);
    const missing = c.missingId();
    const sent = [a1!, missing, a2!, a1!, foreign!, a3!];

    const res = await t.gateway.execute<any>(c.mutation, c.vars(user, sent), { token: t.keyA });
    const payload = dataOf(res)[c.field];
    expect(payload.results).toEqual([
      { id: a1, deleted: true, code: null, message: null },
      { id: missing, deleted: false, code: 'NOT_FOUND', message: expect.stringContaining('not found') },
      { id: a2, deleted: true, code: null, message: null },
      { id: foreign, deleted: false, code: 'NOT_FOUND', message: expect.stringContaining('not found') },
      { id: a3, deleted: true, code: null, message: null },
    ]);
    expect(payload).toMatchObject({ deletedCount: 3, failedCount: 2, backend: c.routing[c.field === 'deleteUserEvents' ? 'userEvents' : c.field === 'deleteMemories' ? 'memories' : 'userMemories']!.toUpperCase() });

    expect(await c.list(t, 'a', user)).toEqual([]);
    expect(await c.list(t, 'b', user)).toEqual([foreign]);

    // User memories name no user in their deletes (as the single delete): the trail is read whole.
    const audit = dataOf(await t.gateway.execute<any>(AUDIT, {}, { token: t.keyA })).deletionAudit.edges.map((e: any) => e.node);
    const mine = audit.filter((r: any) => r.operation === c.field && sent.includes(r.targetId));
    expect(mine.map((r: any) => `${r.targetId} ${r.outcome}`).sort()).toEqual(
      [`${a1} deleted`, `${a2} deleted`, `${a3} deleted`, `${missing} not_found`, `${foreign} not_found`].sort(),
    );
    // B's trail shows nothing of what A did.
    const theirs = dataOf(await t.gateway.execute<any>(AUDIT, {}, { token: t.keyB })).deletionAudit.edges;
    expect(theirs.filter((e: any) => sent.includes(e.node.targetId))).toEqual([]);
  });

  it('takes 1 to 100 ids: none or 101 is BAD_USER_INPUT naming the argument, and nothing is deleted or audited', async () => {
    const user = randomUUID();
    const [kept] = await c.seed(t, 'a', user, 1);
    for (const list of [[], [kept!, ...Array.from({ length: 100 }, () => c.missingId())]]) {
      const res = await t.gateway.execute<any>(c.mutation, c.vars(user, list), { token: t.keyA });
      const error = errorOf(res);
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: c.idsArg });
    }
    const trail = dataOf(await t.gateway.execute<any>(AUDIT, {}, { token: t.keyA })).deletionAudit.edges;
    expect(trail.filter((e: any) => e.node.targetId === kept)).toEqual([]);
    // 100 distinct ids with repeats on top are fine: repeats count once.
    const many = [kept!, ...Array.from({ length: 99 }, () => c.missingId())];
    const res = await t.gateway.execute<any>(c.mutation, c.vars(user, [...many, kept!, many[5]!]), { token: t.keyA });
    expect(dataOf(res)[c.field]).toMatchObject({ deletedCount: 1, failedCount: 99 });
    expect(dataOf(res)[c.field].results).toHaveLength(100);
    expect(await c.list(t, 'a', user)).toEqual([]);
  });

  if (c.field === 'deleteUserEvents') {
    it('checks each id as the single delete does (a bad one gets BAD_USER_INPUT in its result) and the user id for the whole request', async () => {
      const user = randomUUID();
      const [good] = await c.seed(t, 'a', user, 1);
      const res = await t.gateway.execute<any>(c.mutation, c.vars(user, ['not-a-uuid', good!.toUpperCase()]), { token: t.keyA });
      expect(dataOf(res).deleteUserEvents.results).toEqual([
        { id: 'not-a-uuid', deleted: false, code: 'BAD_USER_INPUT', message: 'eventId must be a UUID version 4 or 5' },
        { id: good!.toUpperCase(), deleted: true, code: null, message: null },
      ]);
      const whole = errorOf(await t.gateway.execute<any>(c.mutation, c.vars('alice', [randomUUID()]), { token: t.keyA }));
      expect(whole.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userId' });
    });
  }

  if (c.routing === LOCAL) {
    it('deletes with one SQL statement for the whole batch, not one per id', async () => {
      const user = randomUUID();
      const seeded = await c.seed(t, 'a', user, 20);
      t.gateway.sql.length = 0;
      const res = await t.gateway.execute<any>(c.mutation, c.vars(user, seeded), { token: t.keyA });
      expect(dataOf(res)[c.field].deletedCount).toBe(20);
      const deletes = t.gateway.sql.filter((q) => /^\s*DELETE\b/i.test(q));
      expect(deletes).toHaveLength(1);
      expect(t.gateway.sql.filter((q) => /^\s*INSERT INTO \S*DeletionAudit/i.test(q))).toHaveLength(1);
    });
  }

  if (c.fake) {
    it('rides out a 429 in the middle (Retry-After) and never has more than 8 calls in flight at the provider', async () => {
      const fake = c.fake!(t.fakes);
      const user = randomUUID();
      const seeded = await c.seed(t, 'a', user, 24);
      fake.resetFaults();
      // The twelfth id's delete is refused once with Retry-After: 1; every delete answers slowly,
      // so the gateway has as many in flight as it allows.
      const victim = seeded[11]!;
      fake.rateLimit({ times: 1, retryAfterSeconds: 1, match: c.deleteLine?.(victim) ?? /^DELETE / });
      fake.slow({ times: 100, delayMs: 80, match: /^DELETE / });
      fake.resetInFlight();
      const before = fake.requests.length;

      const res = await t.gateway.execute<any>(c.mutation, c.vars(user, seeded), { token: t.keyA });
      const payload = dataOf(res)[c.field];
      fake.resetFaults();
      expect(payload.failedCount, JSON.stringify(payload.results.filter((r: any) => !r.deleted))).toBe(0);
      expect(payload.deletedCount).toBe(24);

      const sent = fake.requests.slice(before);
      expect(sent.filter((r) => r.status === 429)).toHaveLength(1);
      if (c.deleteLine) expect(sent.filter((r) => r.method === 'DELETE' && c.deleteLine!(victim).test(`${r.method} ${r.path}`))).toHaveLength(2);
      expect(fake.maxInFlight).toBeLessThanOrEqual(8);
      expect(fake.maxInFlight).toBeGreaterThan(1);
      expect(await c.list(t, 'a', user)).toEqual([]);
    });
  }
});

describe('bulk deletes and the rate limit', () => {
  it('counts each distinct id as one write: a bulk delete over the limit is refused whole, and nothing is deleted', async () => {
    const t = await twoTenants(LOCAL, { env: { RATE_LIMIT_WRITES_PER_MIN: '8' } });
    try {
      const user = randomUUID();
      const created = await createThrough(t.gateway, t.keyA, `mutation($u: String!) { createMemory(input: { userId: $u, memory: "limited" }) { id } }`, { u: user }, 4);
      // 4 writes used; 4 distinct ids (one repeated) fit the 4 left, 5 would not.
      const refused = await t.gateway.execute(MEMORIES, { ids: [...created, 'missing-one'], u: user }, { token: t.keyA });
      expect(refused.status).toBe(429);
      expect(errorOf(refused).extensions?.code).toBe('RATE_LIMITED');
      expect(await listMemories(t, 'a', user)).toHaveLength(4);
      const fits = dataOf(await t.gateway.execute<any>(MEMORIES, { ids: [...created, created[0]], u: user }, { token: t.keyA }));
      expect(fits.deleteMemories.deletedCount).toBe(4);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await t.close();
    }
  });
});
