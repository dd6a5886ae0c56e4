import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Every core operation on the local store through the real HTTP layer: the whole shape of each
 * success, page-size edges, and the errors a caller can reach. The per-family contract suites
 * (test/contract) cover the list/delete/cursor behaviour shared with the providers.
 */

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Creates `n` items with aliased mutations (they run in order), a page at a time to stay within
 * the document limits, and returns their ids oldest first.
 */
async function createMany(gateway: TestGateway, token: string, n: number, field: (i: number) => string): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < n; start += 20) {
    const batch = Array.from({ length: Math.min(20, n - start) }, (_, k) => start + k);
    const query = `mutation { ${batch.map((i) => `m${i}: ${field(i)} { id }`).join('\n')} }`;
    const data = dataOf(await gateway.execute<Record<string, { id: string }>>(query, {}, { token }));
    ids.push(...batch.map((i) => data[`m${i}`]!.id));
  }
  return ids;
}

const LISTS = {
  userEvents: {
    defaultFirst: 10,
    create: (user: string) => (i: number) => `createUserEvent(userId: "${user}", input: { eventTip: "event ${i}" })`,
    query: (user: string) => `query($f: Int, $a: String) { list: userEvents(userId: "${user}", first: $f, after: $a) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }`,
    defaultQuery: (user: string) => `{ list: userEvents(userId: "${user}") { edges { node { id } } pageInfo { hasNextPage } } }`,
  },
  userMemories: {
    defaultFirst: 20,
    create: (user: string) => (i: number) => `addUserMemory(input: { content: "fact ${i}", userId: "${user}" })`,
    query: (user: string) => `query($f: Int, $a: String) { list: userMemories(userId: "${user}", first: $f, after: $a) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }`,
    defaultQuery: (user: string) => `{ list: userMemories(userId: "${user}") { edges { node { id } } pageInfo { hasNextPage } } }`,
  },
  memories: {
    defaultFirst: 50,
    create: (user: string) => (i: number) => `createMemory(input: { userId: "${user}", memory: "memory ${i}" })`,
    query: (user: string) => `query($f: Int, $a: String) { list: memories(userId: "${user}", first: $f, after: $a) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }`,
    defaultQuery: (user: string) => `{ list: memories(userId: "${user}") { edges { node { id } } pageInfo { hasNextPage } } }`,
  },
} as const;

describe('core operations on the local store', () => {
  let gateway: TestGateway;
  let token: string;
  let keyId: string;
  let user: string;

  beforeEach(async () => {
    gateway = await startGateway();
    token = await gateway.createKey('acme');
    keyId = token.split('_')[1]!;
    user = randomUUID();
  });
  afterEach(async () => gateway?.close());

  it('createUserEvent returns the whole event; userEvents lists it; deleteUserEvent removes it', async () => {
    const input = {
      eventTip: 'planned a trip',
      eventTags: [{ tag: 'topic', value: 'travel' }, { tag: 'mood', value: 'happy' }],
      profileDelta: [{ content: 'likes Lisbon', topic: 'travel', subTopic: 'cities' }, { content: 'has a dog' }],
    };
    const FIELDS = `id userId eventTip eventTags { tag value } profileDelta { content topic subTopic } createdAt updatedAt backend`;
    const created = dataOf(await gateway.execute<any>(`mutation($u: ID!, $i: CreateUserEventInput!) { createUserEvent(userId: $u, input: $i) { ${FIELDS} } }`, { u: user, i: input }, { token })).createUserEvent;
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      userId: user,
      eventTip: 'planned a trip',
      eventTags: input.eventTags,
      profileDelta: [{ content: 'likes Lisbon', topic: 'travel', subTopic: 'cities' }, { content: 'has a dog', topic: null, subTopic: null }],
      createdAt: expect.stringMatching(ISO),
      updatedAt: expect.stringMatching(ISO),
      backend: 'LOCAL',
    });
    const empty = dataOf(await gateway.execute<any>(`mutation($u: ID!) { createUserEvent(userId: $u, input: {}) { eventTip eventTags { tag } profileDelta { content } } }`, { u: user }, { token })).createUserEvent;
    expect(empty).toEqual({ eventTip: null, eventTags: [], profileDelta: [] });

    const listed = dataOf(await gateway.execute<any>(`query($u: ID!) { userEvents(userId: $u, first: 1) { edges { cursor node { ${FIELDS} } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, { u: user }, { token })).userEvents;
    expect(listed.edges).toHaveLength(1);
    expect(listed.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: listed.edges[0].cursor, endCursor: listed.edges[0].cursor });
    const older = dataOf(await gateway.execute<any>(`query($u: ID!, $a: String) { userEvents(userId: $u, first: 1, after: $a) { edges { node { ${FIELDS} } } pageInfo { hasNextPage } } }`, { u: user, a: listed.pageInfo.endCursor }, { token })).userEvents;
    expect(older.edges[0].node).toEqual(created);
    expect(older.pageInfo.hasNextPage).toBe(false);

    const deleted = dataOf(await gateway.execute<any>(`mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { userId eventId deleted backend } }`, { u: user, e: created.id }, { token })).deleteUserEvent;
    expect(deleted).toEqual({ userId: user, eventId: created.id, deleted: true, backend: 'LOCAL' });
  });

  it('addUserMemory returns the whole memory; userMemories filters it; deleteUserMemory removes it', async () => {
    const input = { content: 'prefers window seats', userId: 'user-7', agentId: 'travel-bot', userPrompt: 'book me a flight', context: ['booking', 'airline'], subTenantId: 'eu' };
    const FIELDS = `id content userId agentId userPrompt context subTenantId createdAt updatedAt backend`;
    const added = dataOf(await gateway.execute<any>(`mutation($i: AddUserMemoryInput!) { addUserMemory(input: $i) { ${FIELDS} } }`, { i: input }, { token })).addUserMemory;
    expect(added).toEqual({ id: expect.any(String), ...input, createdAt: expect.stringMatching(ISO), updatedAt: expect.stringMatching(ISO), backend: 'LOCAL' });
    const minimal = dataOf(await gateway.execute<any>(`mutation { addUserMemory(input: { content: "tenant-wide fact" }) { ${FIELDS} } }`, {}, { token })).addUserMemory;
    expect(minimal).toMatchObject({ content: 'tenant-wide fact', userId: null, agentId: null, userPrompt: null, context: [], subTenantId: null });

    const list = (args: string) => gateway.execute<any>(`{ userMemories(${args}) { edges { node { id } } } }`, {}, { token });
    expect(dataOf(await list('first: 100')).userMemories.edges.map((e: any) => e.node.id)).toEqual([minimal.id, added.id]);
    expect(dataOf(await list('userId: "user-7"')).userMemories.edges.map((e: any) => e.node.id)).toEqual([added.id]);
    expect(dataOf(await list('agentId: "travel-bot"')).userMemories.edges.map((e: any) => e.node.id)).toEqual([added.id]);
    expect(dataOf(await list('subTenantId: "eu"')).userMemories.edges.map((e: any) => e.node.id)).toEqual([added.id]);
    expect(dataOf(await list('subTenantId: "us"')).userMemories.edges).toEqual([]);

    // A sub-tenant given on delete must match the memory's own.
    expect(errorOf(await gateway.execute(`mutation($id: ID!) { deleteUserMemory(userMemoryId: $id, subTenantId: "us") { deleted } }`, { id: added.id }, { token })).extensions?.code).toBe('NOT_FOUND');
    const deleted = dataOf(await gateway.execute<any>(`mutation($id: ID!) { deleteUserMemory(userMemoryId: $id, subTenantId: "eu") { userMemoryId deleted backend } }`, { id: added.id }, { token })).deleteUserMemory;
    expect(deleted).toEqual({ userMemoryId: added.id, deleted: true, backend: 'LOCAL' });
  });

  it('createMemory returns the whole memory; memories filters it; deleteMemory removes it', async () => {
    const input = { userId: 'user-7', memory: 'allergic to peanuts', topics: ['health', 'food'], metadata: { source: 'chat', confidence: 0.9, tags: ['a'], nested: { ok: true } } };
    const FIELDS = `id userId memory topics metadata createdAt updatedAt backend`;
    const created = dataOf(await gateway.execute<any>(`mutation($i: CreateMemoryInput!) { createMemory(input: $i, workspaceId: "ws-1") { ${FIELDS} } }`, { i: input }, { token })).createMemory;
    expect(created).toEqual({ id: expect.any(String), ...input, createdAt: expect.stringMatching(ISO), updatedAt: expect.stringMatching(ISO), backend: 'LOCAL' });
    const minimal = dataOf(await gateway.execute<any>(`mutation { createMemory(input: { userId: "user-8", memory: "likes jazz" }) { topics metadata } }`, {}, { token })).createMemory;
    expect(minimal).toEqual({ topics: [], metadata: null });

    const list = (args: string) => gateway.execute<any>(`{ memories(${args}) { edges { node { id userId } } } }`, {}, { token });
    expect(dataOf(await list('first: 100')).memories.edges).toHaveLength(2);
    expect(dataOf(await list('userId: "user-7"')).memories.edges.map((e: any) => e.node.id)).toEqual([created.id]);
    expect(dataOf(await list('workspaceId: "ws-1"')).memories.edges.map((e: any) => e.node.id)).toEqual([created.id]);
    expect(dataOf(await list('workspaceId: "ws-2"')).memories.edges).toEqual([]);

    // Naming the wrong owner or workspace deletes nothing.
    expect(errorOf(await gateway.execute(`mutation($id: ID!) { deleteMemory(memoryId: $id, userId: "user-8") { message } }`, { id: created.id }, { token })).extensions?.code).toBe('NOT_FOUND');
    expect(errorOf(await gateway.execute(`mutation($id: ID!) { deleteMemory(memoryId: $id, workspaceId: "ws-2") { message } }`, { id: created.id }, { token })).extensions?.code).toBe('NOT_FOUND');
    const deleted = dataOf(await gateway.execute<any>(`mutation($id: ID!) { deleteMemory(memoryId: $id, userId: "user-7", workspaceId: "ws-1") { memoryId message backend } }`, { id: created.id }, { token })).deleteMemory;
    expect(deleted).toEqual({ memoryId: created.id, message: expect.stringMatching(/deleted/i), backend: 'LOCAL' });
    expect(dataOf(await list('userId: "user-7"')).memories.edges).toEqual([]);
  });

  it('deletes of unknown ids are NOT_FOUND with no data, in every family', async () => {
    const attempts = [
      gateway.execute(`mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`, { u: user, e: randomUUID() }, { token }),
      gateway.execute(`mutation { deleteUserMemory(userMemoryId: "no-such-memory") { deleted } }`, {}, { token }),
      gateway.execute(`mutation { deleteMemory(memoryId: "no-such-memory") { message } }`, {}, { token }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(200);
      expect(res.body.data ?? null).toBeNull();
      const error = errorOf(res);
      expect(error.extensions).toEqual({ code: 'NOT_FOUND' });
      expect(error.message).toMatch(/not found/);
    }
  });

  it('deletionAudit returns every field of each attempt, newest first, filtered by user and paged', async () => {
    const [eventId] = await createMany(gateway, token, 1, LISTS.userEvents.create(user));
    const sent = ['audit-req-1', 'audit-req-2', 'audit-req-3'];
    // The audit keeps the gateway's own id (the X-Request-Id response header) and the client's beside it.
    const gatewayIds: string[] = [];
    const del = async (id: string, requestId: string) => {
      const res = await gateway.execute(`mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`, { u: user, e: id }, { token, headers: { 'x-request-id': requestId } });
      gatewayIds.push(res.headers.get('x-request-id')!);
    };
    await del(eventId!, sent[0]!);
    await del(eventId!, sent[1]!);
    const third = await gateway.execute(`mutation { deleteMemory(memoryId: "m-1", userId: "someone-else") { message } }`, {}, { token, headers: { 'x-request-id': sent[2]! } });
    gatewayIds.push(third.headers.get('x-request-id')!);
    expect(new Set(gatewayIds).size).toBe(3);
    for (const id of gatewayIds) expect(sent).not.toContain(id);

    const FIELDS = `id at operation backend targetId userId outcome actor requestId clientRequestId`;
    const all = dataOf(await gateway.execute<any>(`{ deletionAudit { edges { cursor node { ${FIELDS} } } pageInfo { hasNextPage endCursor } } }`, {}, { token })).deletionAudit;
    expect(all.edges.map((e: any) => e.node)).toEqual([
      { id: expect.any(String), at: expect.stringMatching(ISO), operation: 'deleteMemory', backend: 'LOCAL', targetId: 'm-1', userId: 'someone-else', outcome: 'not_found', actor: `key:${keyId}`, requestId: gatewayIds[2], clientRequestId: 'audit-req-3' },
      { id: expect.any(String), at: expect.stringMatching(ISO), operation: 'deleteUserEvent', backend: 'LOCAL', targetId: eventId, userId: user, outcome: 'not_found', actor: `key:${keyId}`, requestId: gatewayIds[1], clientRequestId: 'audit-req-2' },
      { id: expect.any(String), at: expect.stringMatching(ISO), operation: 'deleteUserEvent', backend: 'LOCAL', targetId: eventId, userId: user, outcome: 'deleted', actor: `key:${keyId}`, requestId: gatewayIds[0], clientRequestId: 'audit-req-1' },
    ]);
    expect(all.pageInfo.hasNextPage).toBe(false);

    const mine = dataOf(await gateway.execute<any>(`query($u: String) { deletionAudit(userId: $u) { edges { node { clientRequestId } } } }`, { u: user }, { token })).deletionAudit;
    expect(mine.edges.map((e: any) => e.node.clientRequestId)).toEqual(['audit-req-2', 'audit-req-1']);

    const first = dataOf(await gateway.execute<any>(`{ deletionAudit(first: 2) { edges { node { clientRequestId } } pageInfo { hasNextPage endCursor } } }`, {}, { token })).deletionAudit;
    expect(first.edges.map((e: any) => e.node.clientRequestId)).toEqual(['audit-req-3', 'audit-req-2']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf(await gateway.execute<any>(`query($a: String) { deletionAudit(first: 2, after: $a) { edges { node { clientRequestId } } pageInfo { hasNextPage } } }`, { a: first.pageInfo.endCursor }, { token })).deletionAudit;
    expect(rest).toEqual({ edges: [{ node: { clientRequestId: 'audit-req-1' } }], pageInfo: { hasNextPage: false } });
  });

  it.each(Object.entries(LISTS))('%s: default page size, first=1 and first=100 at the edges of 101 items', async (_family, list) => {
    const ids = await createMany(gateway, token, 101, list.create(user));

    const byDefault = dataOf(await gateway.execute<any>(list.defaultQuery(user), {}, { token })).list;
    expect(byDefault.edges).toHaveLength(list.defaultFirst);
    expect(byDefault.pageInfo.hasNextPage).toBe(true);

    const hundred = dataOf(await gateway.execute<any>(list.query(user), { f: 100 }, { token })).list;
    expect(hundred.edges).toHaveLength(100);
    expect(hundred.pageInfo.hasNextPage).toBe(true);
    const times = hundred.edges.map((e: any) => Date.parse(e.node.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const last = dataOf(await gateway.execute<any>(list.query(user), { f: 100, a: hundred.pageInfo.endCursor }, { token })).list;
    expect(last.edges).toHaveLength(1);
    expect(last.pageInfo.hasNextPage).toBe(false);
    expect(new Set([...hundred.edges, ...last.edges].map((e: any) => e.node.id))).toEqual(new Set(ids));

    // One at a time from the end of the first page: same items, same order.
    let after = hundred.edges[96].cursor;
    const walked: string[] = [];
    for (;;) {
      const page = dataOf(await gateway.execute<any>(list.query(user), { f: 1, a: after }, { token })).list;
      walked.push(...page.edges.map((e: any) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      expect(page.pageInfo.endCursor).toBe(page.edges[0].cursor);
      after = page.pageInfo.endCursor;
    }
    expect(walked).toEqual([...hundred.edges.slice(97), ...last.edges].map((e: any) => e.node.id));
  });

  it('an item created between two pages does not shift the next page (newest first, keyset cursors)', async () => {
    await createMany(gateway, token, 4, LISTS.memories.create(user));
    const first = dataOf(await gateway.execute<any>(LISTS.memories.query(user), { f: 2 }, { token })).list;
    await createMany(gateway, token, 1, LISTS.memories.create(user));
    const whole = dataOf(await gateway.execute<any>(LISTS.memories.query(user), { f: 100 }, { token })).list;
    const second = dataOf(await gateway.execute<any>(LISTS.memories.query(user), { f: 2, a: first.pageInfo.endCursor }, { token })).list;
    expect(second.edges.map((e: any) => e.node.id)).toEqual(whole.edges.slice(3, 5).map((e: any) => e.node.id));
  });
});
