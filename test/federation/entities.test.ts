import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FamilyHarness, MemorySeed } from '../contract/harness.js';
import { providerHarness } from '../contract/provider-harness.js';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { signEndUserToken, TEST_JWT_SECRET } from '../helpers/jwt.js';

/** What a federation router sends to fetch memory-gateway's fields of users it got elsewhere. */
const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on User {
      id
      events(first: 2) { edges { node { id eventTip } } pageInfo { hasNextPage } }
      userMemories(first: 2) { edges { node { id content } } pageInfo { hasNextPage } }
      memories(first: 2) { edges { node { id memory } } pageInfo { hasNextPage } }
    }
  }
}`;

const MEMORIES_ONLY = `query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { id memories(first: 5) { edges { node { memory } } } } }
}`;

interface EntitiesData {
  _entities: {
    id: string;
    events?: { edges: { node: { eventTip: string } }[]; pageInfo: { hasNextPage: boolean } };
    userMemories?: { edges: { node: { content: string } }[]; pageInfo: { hasNextPage: boolean } };
    memories: { edges: { node: { memory: string } }[]; pageInfo?: { hasNextPage: boolean } };
  }[];
}

const representations = (ids: readonly string[]) => ids.map((id) => ({ __typename: 'User', id }));

/** How many SQL statements read each family's table (raw batched SQL or Prisma's own). */
const FAMILY_TABLES = { userEvents: 'UserEvent', userMemories: 'UserMemory', memories: 'Memory' } as const;
const statementsPerFamily = (sql: string[]) =>
  Object.fromEntries(
    Object.entries(FAMILY_TABLES).map(([family, table]) => [
      family,
      sql.filter((q) => q.includes(`FROM "${table}"`) || q.includes(`\`main\`.\`${table}\``)).length,
    ]),
  );

describe('_entities on the local store', () => {
  const USERS = 100;
  let gateway: TestGateway;
  let token: string;
  const userIds = Array.from({ length: USERS }, () => randomUUID());
  /** User i has i % 4 items in each family: some none, some more than a page of 2. */
  const itemsOf = (i: number) => i % 4;

  beforeAll(async () => {
    gateway = await startGateway({ JWT_SECRET: TEST_JWT_SECRET });
    token = await gateway.createKey('tenant-fed');
    const otherToken = await gateway.createKey('tenant-other');
    const create = (n: number, userId: string, auth: string) =>
      gateway.execute(
        `mutation($u: ID!, $us: String!, $t: String!) {
          createUserEvent(userId: $u, input: { eventTip: $t }) { id }
          addUserMemory(input: { userId: $us, content: $t }) { id }
          createMemory(input: { userId: $us, memory: $t }) { id }
        }`,
        { u: userId, us: userId, t: `item ${n} of ${userId}` },
        { token: auth },
      );
    for (const [i, userId] of userIds.entries()) {
      for (let n = 0; n < itemsOf(i); n++) dataOf(await create(n, userId, token));
    }
    // Another tenant knows the same users; none of its items may show.
    dataOf(await create(9, userIds[3]!, otherToken));
  });
  afterAll(async () => gateway?.close());

  async function entitiesFor(count: number) {
    gateway.sql.length = 0;
    const data = dataOf(await gateway.execute<EntitiesData>(ENTITIES, { representations: representations(userIds.slice(0, count)) }, { token }));
    return { data, sql: [...gateway.sql] };
  }

  it('resolves each user with their own lists, in the order of the representations', async () => {
    const { data } = await entitiesFor(USERS);
    expect(data._entities.map((u) => u.id)).toEqual(userIds);
    for (const [i, user] of data._entities.entries()) {
      const expected = Array.from({ length: Math.min(itemsOf(i), 2) }, (_, k) => `item ${itemsOf(i) - 1 - k} of ${userIds[i]}`);
      expect(user.events!.edges.map((e) => e.node.eventTip)).toEqual(expected);
      expect(user.userMemories!.edges.map((e) => e.node.content)).toEqual(expected);
      expect(user.memories.edges.map((e) => e.node.memory)).toEqual(expected);
      expect(user.memories.pageInfo!.hasNextPage).toBe(itemsOf(i) > 2);
    }
  });

  // Besides the key lookup and the tenant's routing, one statement per family: all users of
  // the call are one batch of each family's loader.
  it('costs the same SQL statements for 100 users as for 10: one per family', async () => {
    const ten = await entitiesFor(10);
    const hundred = await entitiesFor(USERS);
    expect(statementsPerFamily(ten.sql), ten.sql.join('\n')).toEqual({ userEvents: 1, userMemories: 1, memories: 1 });
    expect(statementsPerFamily(hundred.sql), hundred.sql.join('\n')).toEqual({ userEvents: 1, userMemories: 1, memories: 1 });
    expect(hundred.sql).toHaveLength(ten.sql.length);
    expect(hundred.data._entities).toHaveLength(USERS);
  });

  it('asks for nothing it need not: a bare reference costs no list statement', async () => {
    gateway.sql.length = 0;
    const data = dataOf(await gateway.execute<EntitiesData>('query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }', { r: representations(userIds) }, { token }));
    expect(data._entities.map((u) => u.id)).toEqual(userIds);
    expect(statementsPerFamily(gateway.sql)).toEqual({ userEvents: 0, userMemories: 0, memories: 0 });
  });

  it('requires authentication like every operation', async () => {
    for (const bad of [null, 'mgw_not-a-real-key']) {
      const res = await gateway.execute(ENTITIES, { representations: representations(userIds.slice(0, 3)) }, { token: bad });
      expect(res.status).toBe(401);
      expect(errorOf(res).extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.body.data ?? null).toBeNull();
    }
  });

  it("lets an end-user token read only its own user's lists", async () => {
    const [own, other] = [userIds[3]!, userIds[7]!];
    const endUser = await signEndUserToken({ sub: own, tenant: 'tenant-fed' });
    const res = await gateway.execute<EntitiesData>(MEMORIES_ONLY, { representations: representations([own, other]) }, { token: endUser });
    expect(res.body.data?._entities[0]!.memories.edges.map((e) => e.node.memory)).toEqual([2, 1, 0].map((n) => `item ${n} of ${own}`));
    expect(res.body.data?._entities[1]).toBeNull();
    expect(res.body.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['_entities', 1, 'memories'], 'FORBIDDEN']]);
  });
});

describe('_entities on a provider (Mielto, through its fake over HTTP)', () => {
  /** Each tenant has its own Mielto API key, as in production. */
  const KEYS = ['mielto-key-fed-a', 'mielto-key-fed-b'] as const;
  let fake: MieltoFake;
  let harness: FamilyHarness<MemorySeed>;

  beforeAll(async () => {
    fake = await startMieltoFake({ apiKeys: [...KEYS] });
    harness = await providerHarness<MemorySeed>({
      backend: 'MIELTO',
      canCreate: true,
      env: { MIELTO_URL: fake.url },
      tenant: (index) => ({ memories: 'mielto', settings: { 'mielto.apiKey': KEYS[index] } }),
      seed: async (index, { userId, memory }) => fake.seedMemory(KEYS[index], { user_id: userId, memory }),
      close: () => fake.close(),
    });
  });
  afterAll(async () => harness?.close());

  it('sends one list request per distinct user, however often a user is repeated', async () => {
    const [tenant, other] = harness.tenants;
    const distinct = Array.from({ length: 12 }, (_, i) => `fed-user-${i}-${randomUUID()}`);
    for (const userId of distinct) await harness.seed(tenant, { userId, memory: `about ${userId}` });
    await harness.seed(other, { userId: distinct[0]!, memory: 'another tenant' });
    // 40 references to 12 users, as a router sends when the same users appear in several places.
    const requested = Array.from({ length: 40 }, (_, i) => distinct[(i * 7) % distinct.length]!);
    fake.requests.length = 0;

    const data = dataOf(await harness.gateway.execute<EntitiesData>(MEMORIES_ONLY, { representations: representations(requested) }, { token: tenant.token }));

    expect(data._entities.map((u) => u.memories.edges.map((e) => e.node.memory))).toEqual(requested.map((id) => [`about ${id}`]));
    const lists = fake.requests.filter((r) => r.method === 'GET');
    expect(lists).toHaveLength(distinct.length);
    expect(new Set(lists.map((r) => r.query.get('user_id')))).toEqual(new Set(distinct));
  });
});
