import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localMemoryStore } from '../src/backends/local/memories.js';
import { localUserEventStore } from '../src/backends/local/user-events.js';
import { localUserMemoryStore } from '../src/backends/local/user-memories.js';
import type { Connection, MemoryStore, Stores, UserEventStore, UserMemoryStore } from '../src/backends/types.js';
import { UpstreamPool } from '../src/backends/http.js';
import { UpstreamBudget } from '../src/backends/budget.js';
import { providerFactories } from '../src/backends/providers.js';
import { notFound } from '../src/errors.js';
import { createUserListLoaders, mapBounded } from '../src/loaders.js';
import { createLogger } from '../src/logger.js';
import { startMieltoFake } from './fakes/mielto.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';

const USERS = 100;
const TENANT = 'tenant-a';
const OTHER = 'tenant-b';

/** User i has i % 4 items, so some users have none and some have more than a page of 2. */
const itemsOf = (i: number) => i % 4;

describe('user list loaders on the local store', () => {
  let gateway: TestGateway;
  let stores: Stores;
  const userIds = Array.from({ length: USERS }, () => randomUUID());

  beforeAll(async () => {
    gateway = await startGateway();
    const prisma = gateway.app.prisma;
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    const rows = userIds.flatMap((userId, i) =>
      Array.from({ length: itemsOf(i) }, (_, n) => ({
        userId,
        // Two items share a timestamp, so the id decides their order.
        createdAt: new Date(base + Math.min(n, 1) * 1000 + i),
        n,
      })),
    );
    for (const tenantId of [TENANT, OTHER]) {
      await prisma.userEvent.createMany({
        data: rows.map((r) => ({ id: randomUUID(), tenantId, userId: r.userId, eventTip: `${tenantId} event ${r.n}`, eventTags: [], profileDelta: [], createdAt: r.createdAt })),
      });
      await prisma.userMemory.createMany({
        data: rows.map((r) => ({ id: randomUUID(), tenantId, userId: r.userId, content: `${tenantId} fact ${r.n}`, context: [], createdAt: r.createdAt })),
      });
      await prisma.memory.createMany({
        data: rows.map((r) => ({ id: randomUUID(), tenantId, userId: r.userId, memory: `${tenantId} memory ${r.n}`, topics: ['t'], createdAt: r.createdAt })),
      });
    }
    stores = {
      userEvents: localUserEventStore(prisma, TENANT),
      userMemories: localUserMemoryStore(prisma, TENANT),
      memories: localMemoryStore(prisma, TENANT),
    };
  });
  afterAll(async () => gateway?.close());

  const families = ['userEvents', 'userMemories', 'memories'] as const;

  it.each(families)('%s: 100 users cost one SQL statement, the same as 10 users', async (family) => {
    for (const count of [10, USERS]) {
      const loaders = createUserListLoaders(stores, {});
      gateway.sql.length = 0;
      const pages = await Promise.all(userIds.slice(0, count).map((id) => loaders[family]({ first: 2 }).load(id)));
      expect(pages).toHaveLength(count);
      expect(gateway.sql, gateway.sql.join('\n')).toHaveLength(1);
      expect(gateway.sql[0]).toMatch(/ROW_NUMBER\(\) OVER \(PARTITION BY "userId"/);
    }
  });

  it.each(families)("%s: each user's batched page equals the page `list` gives for that user alone", async (family) => {
    const loaders = createUserListLoaders(stores, {});
    const store = stores[family] as UserEventStore;
    const batched = await Promise.all(userIds.map((id) => loaders[family]({ first: 2 }).load(id)));
    for (const [i, userId] of userIds.entries()) {
      const alone = await store.list({ userId, first: 2 });
      expect(batched[i]).toEqual(alone);
      expect(alone.edges).toHaveLength(Math.min(itemsOf(i), 2));
      expect(alone.pageInfo.hasNextPage).toBe(itemsOf(i) > 2);
      // Only this tenant's items, although tenant-b has the same users.
      for (const edge of alone.edges) expect(JSON.stringify(edge.node)).toContain(TENANT);
    }
  });

  it.each(families)('%s: `after` continues each user where their own page ended', async (family) => {
    const store = stores[family] as UserEventStore;
    const userId = userIds[3]!; // three items
    const firstPage = await store.list({ userId, first: 2 });
    const loaders = createUserListLoaders(stores, {});
    const [next, other] = await Promise.all([
      loaders[family]({ first: 2, after: firstPage.pageInfo.endCursor }).load(userId),
      loaders[family]({ first: 2 }).load(userIds[2]!),
    ]);
    expect(next).toEqual(await store.list({ userId, first: 2, after: firstPage.pageInfo.endCursor }));
    expect(next.edges).toHaveLength(1);
    expect(next.pageInfo.hasNextPage).toBe(false);
    expect(other.edges).toHaveLength(2);
  });

  it('asks for nothing when a family is not used', async () => {
    const touched: string[] = [];
    const watched = new Proxy(stores, {
      get(target, family: keyof Stores) {
        touched.push(family);
        return target[family];
      },
    });
    const loaders = createUserListLoaders(watched, {});
    await loaders.memories({ first: 1 }).load(userIds[1]!);
    expect(touched).toEqual(['memories']);
  });
});

/** A provider-like store: `list` only, slow, counting its calls and how many run at once. */
function slowStore(failFor?: string) {
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const store = {
    backend: 'mielto' as const,
    async list({ userId, first }: { userId?: string | null; first: number }): Promise<Connection<any>> {
      calls.push(userId!);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      if (userId === failFor) throw notFound(`Memories of ${userId}`);
      const node = { id: `m-${userId}`, userId, memory: 'x', topics: [], metadata: null, createdAt: null, updatedAt: null, backend: 'mielto' };
      return { edges: [{ cursor: `c-${userId}`, node }], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } };
    },
    create: () => Promise.reject(new Error('unused')),
    delete: () => Promise.reject(new Error('unused')),
  } satisfies MemoryStore;
  return { store, calls, maxInFlight: () => maxInFlight };
}

const unusedStore = <T>() => ({}) as T;

describe('user list loaders on a store without a batched read', () => {
  it('calls `list` once per distinct user, a bounded number at a time, in key order', async () => {
    const { store, calls, maxInFlight } = slowStore();
    const loaders = createUserListLoaders(
      { memories: store, userEvents: unusedStore<UserEventStore>(), userMemories: unusedStore<UserMemoryStore>() },
      {},
      { concurrency: 4 },
    );
    const distinct = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const requested = Array.from({ length: 100 }, (_, i) => distinct[(i * 7) % distinct.length]!);
    const pages = await Promise.all(requested.map((id) => loaders.memories({ first: 5 }).load(id)));

    expect(calls).toHaveLength(distinct.length);
    expect(new Set(calls)).toEqual(new Set(distinct));
    expect(maxInFlight()).toBe(4);
    expect(pages.map((p) => p.edges[0]!.node.userId)).toEqual(requested);
  });

  it("fails only the user whose call failed, with that call's error", async () => {
    const { store } = slowStore('user-2');
    const loaders = createUserListLoaders({ memories: store, userEvents: unusedStore<UserEventStore>(), userMemories: unusedStore<UserMemoryStore>() }, {});
    const results = await Promise.allSettled(['user-1', 'user-2', 'user-3'].map((id) => loaders.memories({ first: 5 }).load(id)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.extensions.code).toBe('NOT_FOUND');
  });

  it('keeps separate batches for different page arguments', async () => {
    const { store, calls } = slowStore();
    const loaders = createUserListLoaders({ memories: store, userEvents: unusedStore<UserEventStore>(), userMemories: unusedStore<UserMemoryStore>() }, {});
    await Promise.all([loaders.memories({ first: 5 }).load('u'), loaders.memories({ first: 6 }).load('u'), loaders.memories({ first: 5 }).load('u')]);
    expect(calls).toEqual(['u', 'u']);
  });
});

describe('user list loaders on a provider (Mielto, through its fake over HTTP)', () => {
  it('sends one list request per distinct user and returns each user their own memories', async () => {
    const apiKey = 'mielto-key-loaders';
    const fake = await startMieltoFake({ apiKeys: [apiKey], listKey: 'memories' });
    const gateway = await startGateway({ MIELTO_URL: fake.url });
    const pool = new UpstreamPool(gateway.config.upstream, createLogger(gateway.config, { write: () => undefined }));
    try {
      const distinct = Array.from({ length: 12 }, (_, i) => `user-${i}`);
      for (const userId of distinct) fake.seedMemory(apiKey, { user_id: userId, memory: `about ${userId}` });
      const memories = providerFactories(gateway.config, pool).memories!.mielto!({
        tenantId: 'tenant-a',
        settings: { 'mielto.apiKey': apiKey },
        claim: async () => undefined,
        budget: new UpstreamBudget(1000),
      });
      const loaders = createUserListLoaders({ memories, userEvents: unusedStore<UserEventStore>(), userMemories: unusedStore<UserMemoryStore>() }, {});
      fake.requests.length = 0;

      const requested = Array.from({ length: 40 }, (_, i) => distinct[i % distinct.length]!);
      const pages = await Promise.all(requested.map((id) => loaders.memories({ first: 5 }).load(id)));

      expect(pages.map((p) => p.edges.map((e) => e.node.memory))).toEqual(requested.map((id) => [`about ${id}`]));
      const lists = fake.requests.filter((r) => r.method === 'GET');
      expect(lists).toHaveLength(distinct.length);
      expect(new Set(lists.map((r) => r.query.get('user_id')))).toEqual(new Set(distinct));
    } finally {
      await pool.close();
      await gateway.close();
      await fake.close();
    }
  });
});

describe('mapBounded', () => {
  it('keeps the order of the items and handles fewer items than the limit', async () => {
    expect(await mapBounded([3, 1, 2], 8, async (n) => n * 2)).toEqual([6, 2, 4]);
    expect(await mapBounded([], 4, async (n: number) => n)).toEqual([]);
  });
});
