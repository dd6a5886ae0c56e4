import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { CORE_OPERATIONS } from '../helpers/operations.js';

/**
 * Two tenants using the same user ids: neither ever sees, counts, changes or deletes the other's
 * data, through any operation, and each audit trail holds only its own tenant's attempts.
 */
describe('tenant isolation across every operation', () => {
  let gateway: TestGateway;
  const acme = { token: '' };
  const globex = { token: '' };
  const user = randomUUID();

  const SNAPSHOT = `query($u: ID!, $s: String) {
    userEvents(userId: $u, first: 100) { edges { node { id eventTip } } }
    byUser: userMemories(userId: $s, first: 100) { edges { node { id content } } }
    allUserMemories: userMemories(first: 100) { edges { node { id } } }
    memoriesByUser: memories(userId: $s, first: 100) { edges { node { id memory } } }
    allMemories: memories(first: 100) { edges { node { id } } }
    deletionAudit(first: 100) { edges { node { id targetId outcome } } }
  }`;
  const snapshot = async (token: string) => dataOf(await gateway.execute<any>(SNAPSHOT, { u: user, s: user }, { token }));
  const ids = (conn: any) => conn.edges.map((e: any) => e.node.id);

  async function seed(token: string, label: string) {
    const data = dataOf(
      await gateway.execute<any>(
        `mutation($u: ID!, $s: String!, $t: String!) {
          e: createUserEvent(userId: $u, input: { eventTip: $t }) { id }
          um: addUserMemory(input: { content: $t, userId: $s }) { id }
          m: createMemory(input: { userId: $s, memory: $t }) { id }
        }`,
        { u: user, s: user, t: `${label}'s` },
        { token },
      ),
    );
    return { event: data.e.id as string, userMemory: data.um.id as string, memory: data.m.id as string };
  }

  let acmeItems: Awaited<ReturnType<typeof seed>>;
  let globexItems: Awaited<ReturnType<typeof seed>>;

  beforeAll(async () => {
    gateway = await startGateway();
    acme.token = await gateway.createKey('acme');
    globex.token = await gateway.createKey('globex');
    acmeItems = await seed(acme.token, 'acme');
    globexItems = await seed(globex.token, 'globex');
  });
  afterAll(async () => gateway?.close());

  it("creates land in the creating tenant only, even for the same user id", async () => {
    const a = await snapshot(acme.token);
    const g = await snapshot(globex.token);
    expect(ids(a.userEvents)).toEqual([acmeItems.event]);
    expect(ids(a.byUser)).toEqual([acmeItems.userMemory]);
    expect(ids(a.allUserMemories)).toEqual([acmeItems.userMemory]);
    expect(ids(a.memoriesByUser)).toEqual([acmeItems.memory]);
    expect(ids(a.allMemories)).toEqual([acmeItems.memory]);
    expect(ids(g.userEvents)).toEqual([globexItems.event]);
    expect(ids(g.allUserMemories)).toEqual([globexItems.userMemory]);
    expect(ids(g.allMemories)).toEqual([globexItems.memory]);
    expect(JSON.stringify(g)).not.toContain("acme's");
    expect(JSON.stringify(a)).not.toContain("globex's");
  });

  it("deleting another tenant's ids is NOT_FOUND and audited only for the tenant that tried", async () => {
    const before = await snapshot(acme.token);
    const attempts = [
      gateway.execute(`mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`, { u: user, e: acmeItems.event }, { token: globex.token }),
      gateway.execute(`mutation($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`, { id: acmeItems.userMemory }, { token: globex.token }),
      gateway.execute(`mutation($id: ID!, $u: String) { deleteMemory(memoryId: $id, userId: $u) { message } }`, { id: acmeItems.memory, u: user }, { token: globex.token }),
    ];
    for (const res of await Promise.all(attempts)) expect(errorOf(res).extensions).toEqual({ code: 'NOT_FOUND' });

    const after = await snapshot(acme.token);
    expect(after).toEqual(before);
    expect(after.deletionAudit.edges).toEqual([]);

    const globexAudit = (await snapshot(globex.token)).deletionAudit.edges.map((e: any) => e.node);
    expect(globexAudit.map((n: any) => [n.targetId, n.outcome]).sort()).toEqual(
      [[acmeItems.event, 'not_found'], [acmeItems.userMemory, 'not_found'], [acmeItems.memory, 'not_found']].sort(),
    );
  });

  it("no operation of one tenant changes what the other tenant sees", async () => {
    const before = await snapshot(acme.token);
    // Every core operation as globex, aimed at acme's user and, for deletes, at acme's own ids.
    const aimedAtAcme: Record<string, Record<string, unknown>> = {
      createUserEvent: { u: user, i: { eventTip: 'globex was here' } },
      userEvents: { u: user },
      deleteUserEvent: { u: user, e: acmeItems.event },
      addUserMemory: { i: { content: 'globex was here', userId: user } },
      deleteUserMemory: { id: acmeItems.userMemory },
      createMemory: { i: { userId: user, memory: 'globex was here' } },
      deleteMemory: { id: acmeItems.memory },
    };
    for (const op of CORE_OPERATIONS) {
      const res = await gateway.execute(op.query, aimedAtAcme[op.name] ?? op.variables(), { token: globex.token });
      if (op.name.startsWith('delete') && op.name !== 'deletionAudit') {
        expect(errorOf(res).extensions, op.name).toEqual({ code: 'NOT_FOUND' });
      } else {
        dataOf(res, op.query);
      }
      expect(JSON.stringify(res.body), op.name).not.toContain("acme's");
    }
    expect(await snapshot(acme.token)).toEqual(before);
  });

  it('a tenant deleting its own items leaves the other tenant’s copies and audit alone', async () => {
    const globexBefore = await snapshot(globex.token);
    dataOf(await gateway.execute(`mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`, { u: user, e: acmeItems.event }, { token: acme.token }));
    dataOf(await gateway.execute(`mutation($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`, { id: acmeItems.userMemory }, { token: acme.token }));
    dataOf(await gateway.execute(`mutation($id: ID!) { deleteMemory(memoryId: $id) { message } }`, { id: acmeItems.memory }, { token: acme.token }));
    expect(await snapshot(globex.token)).toEqual(globexBefore);
    const acmeAfter = await snapshot(acme.token);
    expect(acmeAfter.allMemories.edges).toEqual([]);
    expect(acmeAfter.deletionAudit.edges.map((e: any) => e.node.outcome)).toEqual(['deleted', 'deleted', 'deleted']);
  });
});
