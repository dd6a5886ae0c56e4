import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { dataOf } from '../helpers/gateway.js';
import { waitUntil } from '../helpers/upstream.js';
import type { FamilyHarness, MemorySeed } from '../contract/harness.js';
import { providerHarness } from '../contract/provider-harness.js';

/** Within one GraphQL request: identical upstream calls are made once, independent ones run together. */
describe('upstream calls within one request', () => {
  let fake: MieltoFake;
  let h: FamilyHarness<MemorySeed>;

  beforeEach(async () => {
    fake = await startMieltoFake({ apiKeys: ['key-a', 'key-b'] });
    h = await providerHarness<MemorySeed>({
      backend: 'MIELTO',
      canCreate: true,
      env: { MIELTO_URL: fake.url },
      tenant: (i) => ({ memories: 'mielto', settings: { 'mielto.apiKey': i === 0 ? 'key-a' : 'key-b' } }),
      seed: async (i, { userId, memory }) => fake.seedMemory(i === 0 ? 'key-a' : 'key-b', { user_id: userId, memory }),
      close: () => fake.close(),
    });
  });
  afterEach(async () => h.close());

  const listCalls = () => fake.requests.filter((r) => r.method === 'GET').length;
  const deleteCalls = () => fake.requests.filter((r) => r.method === 'DELETE').length;

  it('reads an identical list once, and independent lists concurrently', async () => {
    await h.seed(h.tenants[0], { userId: 'u1', memory: 'likes tea' });
    await h.seed(h.tenants[0], { userId: 'u2', memory: 'likes coffee' });
    fake.requests.length = 0;
    // The first list to arrive is held for a long time: the other one arriving while it is held
    // shows they were sent together, not one after the other.
    fake.slow({ delayMs: 5000, times: 1 });
    const pending = h.gateway.execute<any>(
      `{ a: memories(userId: "u1") { edges { node { memory } } }
         b: memories(userId: "u1") { edges { node { memory } } }
         c: memories(userId: "u2") { edges { node { memory } } } }`,
      {},
      { token: h.tenants[0].token },
    );
    await waitUntil(() => listCalls() === 2, 4000);
    const data = dataOf(await pending);
    expect(data.a).toEqual(data.b);
    expect(data.a.edges[0].node.memory).toBe('likes tea');
    expect(data.c.edges[0].node.memory).toBe('likes coffee');
    expect(listCalls()).toBe(2);
  });

  it('sends an identical delete once and reports both fields deleted', async () => {
    const id = await h.seed(h.tenants[0], { userId: 'u1', memory: 'forget me' });
    fake.requests.length = 0;
    const res = await h.gateway.execute<any>(
      `mutation($id: ID!) { first: deleteMemory(memoryId: $id, userId: "u1") { memoryId }
                            again: deleteMemory(memoryId: $id, userId: "u1") { memoryId } }`,
      { id },
      { token: h.tenants[0].token },
    );
    expect(dataOf(res)).toEqual({ first: { memoryId: id }, again: { memoryId: id } });
    expect(deleteCalls()).toBe(1);
    // A second request is a new request: the memory is gone.
    const later = await h.gateway.execute<any>(`mutation($id: ID!) { deleteMemory(memoryId: $id, userId: "u1") { memoryId } }`, { id }, { token: h.tenants[0].token });
    expect(later.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
