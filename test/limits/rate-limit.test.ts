import { parse } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { rateCost } from '../../src/limits.js';
import { memoryRateLimitStore } from '../../src/rate-limit.js';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { TEST_JWT_SECRET, signEndUserToken } from '../helpers/jwt.js';

const READ = `{ memories(first: 1) { edges { node { id } } } }`;
const create = (n: number) =>
  `mutation { ${Array.from({ length: n }, (_, i) => `m${i}: createMemory(input: { userId: "u", memory: "m${i}" }) { id }`).join(' ')} }`;

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function start(env: Record<string, string>) {
  gateway = await startGateway({ JWT_SECRET: TEST_JWT_SECRET, ...env });
  return gateway;
}

const headersOf = (res: { headers: Headers }) => ({
  limit: res.headers.get('x-ratelimit-limit'),
  remaining: res.headers.get('x-ratelimit-remaining'),
  reset: Number(res.headers.get('x-ratelimit-reset')),
});

const memoryCount = (g: TestGateway) => g.app.prisma.memory.count();

describe('rate limits per principal', () => {
  it('counts each root query field (aliases included) as one read and reports the budget on every answer', async () => {
    const g = await start({ RATE_LIMIT_READS_PER_MIN: '5', RATE_LIMIT_WRITES_PER_MIN: '100' });
    const token = await g.createKey('acme');
    const first = await g.execute(READ, {}, { token });
    dataOf(first);
    expect(headersOf(first)).toEqual({ limit: '5', remaining: '4', reset: expect.any(Number) });
    expect(headersOf(first).reset).toBeGreaterThan(0);
    expect(headersOf(first).reset).toBeLessThanOrEqual(60);

    const three = await g.execute(`{ a: memories { edges { cursor } } b: memories { edges { cursor } } c: userMemories { edges { cursor } } }`, {}, { token });
    dataOf(three);
    expect(headersOf(three).remaining).toBe('1');

    // Two more reads do not fit into the one left: refused whole, nothing taken.
    const refused = await g.execute(`{ a: memories { edges { cursor } } b: memories { edges { cursor } } }`, {}, { token });
    expect(refused.status).toBe(429);
    const error = errorOf(refused);
    expect(error.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    expect(error.extensions!.retryAfter).toBeGreaterThan(0);
    expect(refused.headers.get('retry-after')).toBe(String(error.extensions!.retryAfter));
    expect(refused.body.data ?? null).toBeNull();
    expect(headersOf(refused).remaining).toBe('1');

    // The one read left is still there.
    const last = await g.execute(READ, {}, { token });
    dataOf(last);
    expect(headersOf(last).remaining).toBe('0');
    expect(errorOf(await g.execute(READ, {}, { token })).extensions!.code).toBe('RATE_LIMITED');
  });

  it('counts each root mutation field as one write; a refused request writes nothing', async () => {
    const g = await start({ RATE_LIMIT_READS_PER_MIN: '100', RATE_LIMIT_WRITES_PER_MIN: '3' });
    const token = await g.createKey('acme');
    const two = await g.execute(create(2), {}, { token });
    dataOf(two);
    expect(headersOf(two)).toMatchObject({ limit: '3', remaining: '1' });
    expect(await memoryCount(g)).toBe(2);

    const refused = await g.execute(create(2), {}, { token });
    expect(refused.status).toBe(429);
    expect(errorOf(refused).extensions!.code).toBe('RATE_LIMITED');
    expect(await memoryCount(g)).toBe(2);

    // Reads have their own budget and still answer.
    const read = await g.execute(READ, {}, { token });
    dataOf(read);
    expect(headersOf(read)).toMatchObject({ limit: '100', remaining: '99' });
  });

  it('aliased deletes are one write each', async () => {
    const g = await start({ RATE_LIMIT_WRITES_PER_MIN: '6' });
    const token = await g.createKey('acme');
    const created = dataOf(await g.execute<Record<string, { id: string }>>(create(3), {}, { token }));
    const ids = Object.values(created).map((m) => m.id);
    const res = await g.execute(`mutation { ${ids.map((id, i) => `d${i}: deleteMemory(memoryId: "${id}") { memoryId }`).join(' ')} }`, {}, { token });
    dataOf(res);
    expect(headersOf(res).remaining).toBe('0');
    const refused = await g.execute(`mutation { deleteMemory(memoryId: "x4") { message } }`, {}, { token });
    expect(errorOf(refused).extensions!.code).toBe('RATE_LIMITED');
    // Refused before it ran: no audit record of an attempt.
    expect(await g.app.prisma.deletionAudit.count({ where: { targetId: 'x4' } })).toBe(0);
  });

  it('a request larger than the whole budget says so', async () => {
    const g = await start({ RATE_LIMIT_WRITES_PER_MIN: '2' });
    const token = await g.createKey('acme');
    const error = errorOf(await g.execute(create(3), {}, { token }));
    expect(error.extensions!.code).toBe('RATE_LIMITED');
    expect(error.message).toMatch(/needs more writes than the limit of 2/);
    expect(await memoryCount(g)).toBe(0);
  });

  it('counts per tenant for API keys and per tenant and user for end users', async () => {
    const g = await start({ RATE_LIMIT_READS_PER_MIN: '2' });
    const keyA1 = await g.createKey('tenant-a');
    const keyA2 = await g.createKey('tenant-a');
    const keyB = await g.createKey('tenant-b');
    const alice = await signEndUserToken({ sub: 'alice', tenant: 'tenant-a' });
    const bob = await signEndUserToken({ sub: 'bob', tenant: 'tenant-a' });

    dataOf(await g.execute(READ, {}, { token: keyA1 }));
    dataOf(await g.execute(READ, {}, { token: keyA2 }));
    // Two keys of one tenant share its budget.
    expect(errorOf(await g.execute(READ, {}, { token: keyA1 })).extensions!.code).toBe('RATE_LIMITED');
    // Another tenant and the tenant's end users each have their own.
    expect(headersOf(await g.execute(READ, {}, { token: keyB })).remaining).toBe('1');
    expect(headersOf(await g.execute(READ, {}, { token: alice })).remaining).toBe('1');
    expect(headersOf(await g.execute(READ, {}, { token: alice })).remaining).toBe('0');
    expect(errorOf(await g.execute(READ, {}, { token: alice })).extensions!.code).toBe('RATE_LIMITED');
    expect(headersOf(await g.execute(READ, {}, { token: bob })).remaining).toBe('1');
  });

  it('refuses a batch whole: none of its operations runs', async () => {
    const g = await start({ RATE_LIMIT_WRITES_PER_MIN: '3' });
    const token = await g.createKey('acme');
    const batch = (n: number) =>
      g.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ query: `mutation { createMemory(input: { userId: "u", memory: "b${i}" }) { id } }` }))),
      });
    const ok = await batch(2);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as unknown[]).length).toBe(2);
    expect(ok.headers.get('x-ratelimit-remaining')).toBe('1');

    const refused = await batch(2);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const bodies = (await refused.json()) as { errors: { extensions: { code: string } }[] }[];
    expect(bodies.map((b) => b.errors[0]!.extensions.code)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    expect(await memoryCount(g)).toBe(2);
  });

  it('0 turns a class off: no limit and no headers for it', async () => {
    const g = await start({ RATE_LIMIT_READS_PER_MIN: '0', RATE_LIMIT_WRITES_PER_MIN: '1' });
    const token = await g.createKey('acme');
    for (let i = 0; i < 5; i++) {
      const res = await g.execute(READ, {}, { token });
      dataOf(res);
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    }
    dataOf(await g.execute(create(1), {}, { token }));
    expect(errorOf(await g.execute(create(1), {}, { token })).extensions!.code).toBe('RATE_LIMITED');
  });

  it('the defaults are 1200 reads and 300 writes a minute', async () => {
    const g = await start({ RATE_LIMIT_READS_PER_MIN: '', RATE_LIMIT_WRITES_PER_MIN: '' });
    const token = await g.createKey('acme');
    expect(headersOf(await g.execute(READ, {}, { token })).limit).toBe('1200');
    expect(headersOf(await g.execute(create(1), {}, { token })).limit).toBe('300');
  });

  it('unauthenticated requests are refused before they count', async () => {
    const g = await start({ RATE_LIMIT_READS_PER_MIN: '1' });
    const res = await g.execute(READ, {}, { token: 'mgw_nope_nope' });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
  });
});

describe('what a request costs against the rate limits', () => {
  const cost = (query: string, variables?: Record<string, unknown>, operationName?: string) => rateCost(parse(query), operationName, variables);

  it('counts root fields through fragments, once per response key, and not introspection', () => {
    expect(cost(`{ a: memories { edges { cursor } } ...F ... on Query { c: userMemories { edges { cursor } } } } fragment F on Query { b: memories { edges { cursor } } }`)).toEqual({ reads: 3, writes: 0 });
    expect(cost(`{ memories { edges { cursor } } memories { pageInfo { hasNextPage } } }`)).toEqual({ reads: 1, writes: 0 });
    expect(cost(`{ __typename __schema { queryType { name } } }`)).toEqual({ reads: 0, writes: 0 });
    expect(cost(`query A { memories { edges { cursor } } } mutation B { deleteMemory(memoryId: "x") { message } }`, {}, 'B')).toEqual({ reads: 0, writes: 1 });
  });

  it('counts each distinct id of a bulk delete as one write, from literals or variables', () => {
    expect(cost(`mutation { deleteMemories(memoryIds: ["a", "b", "a", "c"]) { deletedCount } }`)).toEqual({ reads: 0, writes: 3 });
    expect(cost(`mutation($ids: [ID!]!) { deleteUserMemories(userMemoryIds: $ids) { deletedCount } }`, { ids: ['a', 'b', 'b'] })).toEqual({ reads: 0, writes: 2 });
    expect(cost(`mutation($u: ID!, $ids: [ID!]!) { x: deleteUserEvents(userId: $u, eventIds: $ids) { deletedCount } y: deleteMemory(memoryId: "m") { message } }`, { u: 'u', ids: ['e1', 'e2'] })).toEqual({ reads: 0, writes: 3 });
    expect(cost(`mutation { deleteMemories(memoryIds: []) { deletedCount } }`)).toEqual({ reads: 0, writes: 1 });
  });
});

describe('the in-memory rate-limit store', () => {
  it('takes all the points or none', async () => {
    const store = memoryRateLimitStore(10);
    expect(await store.take('k', 7)).toMatchObject({ allowed: true, limit: 10, remaining: 3 });
    expect(await store.take('k', 4)).toMatchObject({ allowed: false, remaining: 3 });
    expect(await store.take('k', 3)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await store.peek('other')).toMatchObject({ limit: 10, remaining: 10 });
    await store.giveBack('k', 2);
    expect(await store.peek('k')).toMatchObject({ remaining: 2 });
  });
});
