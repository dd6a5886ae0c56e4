import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Each list costs a fixed number of SQL statements whatever its length (no N+1): the key lookup
 * with its tenant's routing, and one statement for the page. Measured for 1 and for 50 items.
 */
const LISTS = [
  {
    name: 'userEvents',
    seed: (user: string, i: number) => `createUserEvent(userId: "${user}", input: { eventTip: "e${i}", eventTags: [{ tag: "t", value: "v" }], profileDelta: [{ content: "c" }] }) { id }`,
    list: (user: string) => `{ userEvents(userId: "${user}", first: 100) { edges { cursor node { id userId eventTip eventTags { tag value } profileDelta { content topic subTopic } createdAt updatedAt backend } } pageInfo { hasNextPage endCursor } } }`,
  },
  {
    name: 'userMemories',
    seed: (user: string, i: number) => `addUserMemory(input: { content: "f${i}", userId: "${user}", context: ["a", "b"] }) { id }`,
    list: (user: string) => `{ userMemories(userId: "${user}", first: 100) { edges { cursor node { id content userId agentId userPrompt context subTenantId createdAt updatedAt backend } } pageInfo { hasNextPage endCursor } } }`,
  },
  {
    name: 'memories',
    seed: (user: string, i: number) => `createMemory(input: { userId: "${user}", memory: "m${i}", topics: ["x"], metadata: { n: ${i} } }) { id }`,
    list: (user: string) => `{ memories(userId: "${user}", first: 100) { edges { cursor node { id userId memory topics metadata createdAt updatedAt backend } } pageInfo { hasNextPage endCursor } } }`,
  },
  {
    name: 'deletionAudit',
    seed: (user: string, i: number) => `deleteMemory(memoryId: "missing-${i}", userId: "${user}") { message }`,
    list: (user: string) => `{ deletionAudit(userId: "${user}", first: 100) { edges { cursor node { id at operation backend targetId userId outcome actor requestId } } pageInfo { hasNextPage endCursor } } }`,
  },
];

/** Per list request: the API key with its tenant's routing (one statement), the page itself. */
const STATEMENTS_PER_LIST = 2;

describe('SQL statements per list query (no N+1)', () => {
  let gateway: TestGateway;
  let token: string;

  beforeEach(async () => {
    gateway = await startGateway();
    token = await gateway.createKey('acme');
  });
  afterEach(async () => gateway?.close());

  async function statementsFor(list: (typeof LISTS)[number], items: number) {
    const user = randomUUID();
    for (let i = 0; i < items; i++) {
      // Deletes of missing ids fail by design; only their audit records matter here.
      await gateway.execute(`mutation { ${list.seed(user, i)} }`, {}, { token });
    }
    gateway.sql.length = 0;
    const data = dataOf(await gateway.execute<any>(list.list(user), {}, { token }));
    expect(data[list.name].edges).toHaveLength(items);
    return [...gateway.sql];
  }

  it.each(LISTS)('$name: the same statements for 1 item and for 50', async (list) => {
    const one = await statementsFor(list, 1);
    const fifty = await statementsFor(list, 50);
    expect(one, one.join('\n')).toHaveLength(STATEMENTS_PER_LIST);
    expect(fifty).toEqual(one);
  });

  it('all four lists in one request cost the lookups once plus one statement each', async () => {
    const user = randomUUID();
    for (const list of LISTS) for (let i = 0; i < 5; i++) await gateway.execute(`mutation { ${list.seed(user, i)} }`, {}, { token });
    gateway.sql.length = 0;
    const query = `{ ${LISTS.map((l) => l.list(user).slice(1, -1)).join('\n')} }`;
    dataOf(await gateway.execute(query, {}, { token }));
    expect(gateway.sql, gateway.sql.join('\n')).toHaveLength(1 + LISTS.length);
  });
});
