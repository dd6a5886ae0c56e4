import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MieltoFake } from '../fakes/mielto.js';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { abortableRequest, waitUntil } from '../helpers/upstream.js';

const KEY = 'mielto-key-for-deletes';
const DELETE_MEMORY = `mutation($id: ID!, $u: String) { deleteMemory(memoryId: $id, userId: $u) { memoryId message } }`;

let gateway: TestGateway | undefined;
let fake: MieltoFake | undefined;
afterEach(async () => {
  await gateway?.close();
  await fake?.close();
  gateway = undefined;
  fake = undefined;
});

/** Polls `read` until `done` holds (or 15 s pass) and returns the last value read. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const until = Date.now() + 15_000;
  let value = await read();
  while (!done(value) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

const outcomes = async (g: TestGateway, targetId: string) =>
  (await g.app.prisma.deletionAudit.findMany({ where: { targetId } })).map((r) => r.outcome).sort();

/** Runs the same delete `n` times at once and sorts the answers into successes and error codes. */
async function concurrently(g: TestGateway, token: string, n: number, query: string, variables: Record<string, unknown>) {
  const answers = await Promise.all(Array.from({ length: n }, () => g.execute(query, variables, { token })));
  const codes = answers.flatMap((a) => a.body.errors?.map((e) => e.extensions?.code as string) ?? []);
  const successes = answers.filter((a) => !a.body.errors && a.body.data);
  return { successes: successes.length, codes };
}

describe('deletes racing for one id', () => {
  const FAMILIES = [
    {
      name: 'memories',
      create: `mutation { created: createMemory(input: { userId: "u", memory: "race" }) { id } }`,
      del: `mutation($id: ID!) { deleteMemory(memoryId: $id) { message } }`,
      variables: (id: string) => ({ id }),
    },
    {
      name: 'userMemories',
      create: `mutation { created: addUserMemory(input: { content: "race", userId: "u" }) { id } }`,
      del: `mutation($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`,
      variables: (id: string) => ({ id }),
    },
    {
      name: 'userEvents',
      create: `mutation { created: createUserEvent(userId: "9b2f6c1e-4d3a-4f8b-9c2d-1a2b3c4d5e6f", input: { eventTip: "race" }) { id } }`,
      del: `mutation($id: ID!) { deleteUserEvent(userId: "9b2f6c1e-4d3a-4f8b-9c2d-1a2b3c4d5e6f", eventId: $id) { deleted } }`,
      variables: (id: string) => ({ id }),
    },
  ];

  it.each(FAMILIES)('local $name: 50 at once give one success and 49 NOT_FOUND, and the audit says exactly that', async (family) => {
    gateway = await startGateway();
    const token = await gateway.createKey('acme');
    const { created } = dataOf(await gateway.execute<{ created: { id: string } }>(family.create, {}, { token }));
    const result = await concurrently(gateway, token, 50, family.del, family.variables(created.id));
    expect(result.successes).toBe(1);
    expect(result.codes).toEqual(Array(49).fill('NOT_FOUND'));
    expect(await outcomes(gateway, created.id)).toEqual(['deleted', ...Array(49).fill('not_found')]);
  });

  it('Mielto: 50 at once give one success and 49 NOT_FOUND, and the audit says exactly that', async () => {
    fake = await new MieltoFake({ apiKeys: [KEY] }).listen();
    gateway = await startGateway({ MEMORIES_BACKEND: 'mielto', MIELTO_URL: fake.url, MIELTO_API_KEY: KEY });
    const token = await gateway.createKey('acme');
    const id = fake.seedMemory(KEY, { user_id: 'u', memory: 'race' });
    // Slow answers keep the 50 requests in flight together.
    fake.slow({ delayMs: 50, times: 50 });
    const result = await concurrently(gateway, token, 50, DELETE_MEMORY, { id, u: 'u' });
    expect(result.successes).toBe(1);
    expect(result.codes).toEqual(Array(49).fill('NOT_FOUND'));
    expect(await outcomes(gateway, id)).toEqual(['deleted', ...Array(49).fill('not_found')]);
  });
});

describe('the audit record of a delete', () => {
  it('local: the record commits with the delete, reads back like any other and keeps its order', async () => {
    gateway = await startGateway();
    const token = await gateway.createKey('acme');
    const ids: string[] = [];
    for (const memory of ['one', 'two']) {
      ids.push(dataOf(await gateway.execute<any>(`mutation { createMemory(input: { userId: "u", memory: "${memory}" }) { id } }`, {}, { token })).createMemory.id);
    }
    dataOf(await gateway.execute(DELETE_MEMORY, { id: ids[0] }, { token }));
    await gateway.execute(DELETE_MEMORY, { id: 'missing' }, { token });
    dataOf(await gateway.execute(DELETE_MEMORY, { id: ids[1], u: 'u' }, { token }));
    const audit = dataOf(await gateway.execute<any>(`{ deletionAudit { edges { node { at operation backend targetId userId outcome actor } } } }`, {}, { token }));
    const nodes = audit.deletionAudit.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => [n.targetId, n.outcome])).toEqual([
      [ids[1], 'deleted'],
      ['missing', 'not_found'],
      [ids[0], 'deleted'],
    ]);
    expect(nodes[0]).toMatchObject({ operation: 'deleteMemory', backend: 'LOCAL', userId: 'u', actor: expect.stringMatching(/^key:/) });
    for (const node of nodes) expect(Date.parse(node.at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('provider: the record is written pending before the call and settled after it', async () => {
    fake = await new MieltoFake({ apiKeys: [KEY] }).listen();
    gateway = await startGateway({ MEMORIES_BACKEND: 'mielto', MIELTO_URL: fake.url, MIELTO_API_KEY: KEY });
    const token = await gateway.createKey('acme');
    const id = fake.seedMemory(KEY, { user_id: 'u', memory: 'pending' });
    fake.slow({ delayMs: 400, match: /^DELETE / });
    const answer = gateway.execute(DELETE_MEMORY, { id, u: 'u' }, { token });
    const g = gateway;
    await waitUntil(() => fake!.requests.some((r) => r.method === 'DELETE'));
    // While the provider works on it, the trail already says a delete is under way.
    expect(await outcomes(g, id)).toEqual(['pending']);
    dataOf(await answer);
    expect(await outcomes(g, id)).toEqual(['deleted']);
  });

  it('provider: a delete whose caller went away is settled by sending it again', async () => {
    fake = await new MieltoFake({ apiKeys: [KEY] }).listen();
    // Small timeouts make a record older than any call in flight within a second or two.
    gateway = await startGateway({
      MEMORIES_BACKEND: 'mielto',
      MIELTO_URL: fake.url,
      MIELTO_API_KEY: KEY,
      UPSTREAM_TIMEOUT_MS: '300',
      UPSTREAM_RETRY_BUDGET_MS: '300',
    });
    const token = await gateway.createKey('acme');
    const id = fake.seedMemory(KEY, { user_id: 'u', memory: 'left behind' });
    fake.hang({ match: /^DELETE / });
    const request = abortableRequest(gateway, token, DELETE_MEMORY, { id, u: 'u' });
    const g = gateway;
    await waitUntil(() => fake!.requests.some((r) => r.method === 'DELETE'));
    request.abort();
    await request.done;
    expect(await outcomes(g, id)).toEqual(['pending']);
    // Recovery sends the delete again; the fake now answers, and the record tells the truth.
    expect(await eventually(() => outcomes(g, id), (o) => o[0] !== 'pending')).toEqual(['deleted']);
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(2);
    const list = dataOf(await g.execute<any>(`{ memories(userId: "u") { edges { node { id } } } }`, {}, { token }));
    expect(list.memories.edges).toEqual([]);
  });

  it('refused input is recorded with its code, and nothing is deleted', async () => {
    gateway = await startGateway();
    const token = await gateway.createKey('acme');
    const res = await gateway.execute(`mutation { deleteUserEvent(userId: "not-a-uuid", eventId: "${randomUUID()}") { deleted } }`, {}, { token });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const records = await gateway.app.prisma.deletionAudit.findMany();
    expect(records.map((r) => [r.operation, r.outcome])).toEqual([['deleteUserEvent', 'bad_user_input']]);
  });
});
