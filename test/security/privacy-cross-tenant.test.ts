import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORGET, forget, RECEIPT, type Receipt } from '../helpers/forget.js';
import { dataOf, type GraphQLResponse } from '../helpers/gateway.js';
import { signEndUserToken } from '../helpers/jwt.js';
import { CORTEX, LOCAL, PLACEMENT, PROVIDER_KEYS, PROXIED, twoTenants, type Routing, type TwoTenants } from '../helpers/providers.js';

/**
 * The privacy operations as a hostile tenant B — with its key and as its end user whose id is
 * A's user's id — against tenant A: bulk deletes of A's ids (with every scope argument B can
 * send), forgetting A's user, reading A's receipts. B deletes, counts and reads nothing of A's.
 * (The change stream's isolation is tested in test/privacy/memory-changes.test.ts.)
 */

const SCENARIOS: { name: string; routing: Routing }[] = [
  { name: 'local store', routing: LOCAL },
  { name: 'Memobase + Datagrid + Mielto, separate credentials', routing: PROXIED },
  { name: 'Cortex, separate credentials', routing: CORTEX },
];

const SNAPSHOT = `query($u: ID!, $s: String) {
  userEvents(userId: $u, first: 100) { edges { node { id } } }
  userMemories(userId: $s, first: 100) { edges { node { id } } }
  inSubTenant: userMemories(subTenantId: $s, first: 100) { edges { node { id } } }
  memories(userId: $s, first: 100) { edges { node { id } } }
  deletionAudit(first: 100) { edges { node { id targetId outcome } } }
  forgetUserReceipts(first: 100) { edges { node { id status parts { found deleted } } } }
}`;

describe.each(SCENARIOS)('privacy operations across tenants: $name', ({ routing }) => {
  let t: TwoTenants;
  const user = randomUUID();
  const marker = `A-ONLY-${randomUUID()}`;
  let before: any;
  let aReceipt: Receipt;
  let ids: { events: string[]; userMemories: string[]; memories: string[] };
  const responses: { attack: string; as: string; res: GraphQLResponse }[] = [];

  beforeAll(async () => {
    t = await twoTenants(routing);
    const local = routing.userEvents === 'local';
    for (let i = 0; i < 2; i++) {
      dataOf(
        await t.gateway.execute(
          `mutation(${local ? '$u: ID!, ' : ''}$s: String!, $m: String!) {
            ${local ? 'e: createUserEvent(userId: $u, input: { eventTip: $m }) { id }' : ''}
            ${routing.userMemories === 'cortex' ? '' : 'um: addUserMemory(input: { content: $m, userId: $s, agentId: "agent" }) { id }'}
            m: createMemory(input: { userId: $s, memory: $m }) { id }
          }`,
          { ...(local && { u: user }), s: user, m: marker },
          { token: t.keyA },
        ),
      );
      if (routing.userEvents === 'memobase') t.fakes.memobase.seedEvent(PROVIDER_KEYS.a.memobase, user, { eventTip: marker });
      if (routing.userMemories === 'cortex') t.fakes.cortex.seedMemory(PROVIDER_KEYS.a.cortex, { tenantId: PLACEMENT.a.cortexTenant, subTenantId: user, content: marker });
      if (routing.userMemories === 'datagrid') t.fakes.datagrid.seedMemory(PROVIDER_KEYS.a.datagrid, { memory: marker, user_id: user, teamspace: PLACEMENT.a.teamspace });
    }
    // A has a receipt of its own (a dry run, so its data stays for the attacks).
    aReceipt = await forget(t.gateway, t.keyA, user, true);
    before = dataOf(await t.gateway.execute<any>(SNAPSHOT, { u: user, s: user }, { token: t.keyA }));
    const idsOf = (c: any) => c.edges.map((e: any) => e.node.id as string);
    ids = {
      events: idsOf(before.userEvents),
      userMemories: [...new Set([...idsOf(before.userMemories), ...idsOf(before.inSubTenant)])],
      memories: idsOf(before.memories),
    };
    expect(ids.events.length + ids.userMemories.length + ids.memories.length).toBeGreaterThanOrEqual(6);

    const endUserB = await signEndUserToken({ sub: user, tenant: 'tenant-b' });
    const attacks: { name: string; query: string; variables: Record<string, unknown> }[] = [
      { name: 'deleteUserEvents', query: `mutation($u: ID!, $ids: [ID!]!) { deleteUserEvents(userId: $u, eventIds: $ids) { results { id deleted code } deletedCount } }`, variables: { u: user, ids: ids.events.length ? ids.events : [randomUUID()] } },
      { name: 'deleteUserMemories', query: `mutation($ids: [ID!]!) { deleteUserMemories(userMemoryIds: $ids) { results { id deleted code } deletedCount } }`, variables: { ids: ids.userMemories } },
      { name: "deleteUserMemories in the user's sub-tenant", query: `mutation($ids: [ID!]!, $s: String) { deleteUserMemories(userMemoryIds: $ids, subTenantId: $s) { results { id deleted code } deletedCount } }`, variables: { ids: ids.userMemories, s: user } },
      { name: 'deleteMemories', query: `mutation($ids: [ID!]!) { deleteMemories(memoryIds: $ids) { results { id deleted code } deletedCount } }`, variables: { ids: ids.memories } },
      { name: 'deleteMemories of the user', query: `mutation($ids: [ID!]!, $u: String) { deleteMemories(memoryIds: $ids, userId: $u) { results { id deleted code } deletedCount } }`, variables: { ids: ids.memories, u: user } },
      { name: "deleteMemories in A's workspace", query: `mutation($ids: [ID!]!, $u: String) { deleteMemories(memoryIds: $ids, userId: $u, workspaceId: "ws-a") { results { id deleted code } deletedCount } }`, variables: { ids: ids.memories, u: user } },
      { name: 'forgetUser', query: FORGET, variables: { u: user } },
      { name: 'forgetUser dry run', query: FORGET, variables: { u: user, dry: true } },
      { name: "A's receipt", query: RECEIPT, variables: { id: aReceipt.id } },
      { name: 'receipts of the user', query: `query($u: String) { forgetUserReceipts(userId: $u) { edges { node { id parts { found } } } } }`, variables: { u: user } },
    ];
    for (const [as, token] of [['B key', t.keyB], ['B end user', endUserB]] as const) {
      for (const attack of attacks) responses.push({ attack: attack.name, as, res: await t.gateway.execute(attack.query, attack.variables, { token }) });
    }
  }, 120_000);

  afterAll(async () => t?.close());

  it("never shows B a byte or a count of A's data", () => {
    for (const { attack, as, res } of responses) {
      const body = JSON.stringify(res.body);
      expect(body, `${as}: ${attack}`).not.toContain('A-ONLY');
      expect(body, `${as}: ${attack}`).not.toContain(aReceipt.id);
      expect(res.status, `${as}: ${attack}`).toBeLessThan(500);
    }
  });

  it("deletes none of A's items: every id B sends is NOT_FOUND, or the request is refused", () => {
    for (const { attack, as, res } of responses.filter((r) => r.attack.startsWith('delete'))) {
      const payload = res.body.data && Object.values(res.body.data)[0];
      if (payload) {
        expect((payload as any).deletedCount, `${as}: ${attack}`).toBe(0);
        for (const r of (payload as any).results) expect(['NOT_FOUND', 'FORBIDDEN'], `${as}: ${attack} ${JSON.stringify(r)}`).toContain(r.code);
      } else {
        expect(['FORBIDDEN', 'NOT_FOUND'], `${as}: ${attack} ${JSON.stringify(res.body)}`).toContain(res.body.errors?.[0]?.extensions?.code);
      }
    }
  });

  it("B's forget of the same user id finds nothing (it is another tenant's user) and B cannot read A's receipts", async () => {
    for (const as of ['B key', 'B end user']) {
      const started = responses.find((r) => r.as === as && r.attack === 'forgetUser')!.res.body.data?.forgetUser as Receipt;
      expect(started.id).not.toBe(aReceipt.id);
      const final = dataOf(await t.gateway.execute<any>(RECEIPT, { id: started.id }, { token: t.keyB })).forgetUserReceipt as Receipt;
      for (const part of final.parts) expect(part.found, `${as}: ${JSON.stringify(final)}`).toBe(0);
      expect(responses.find((r) => r.as === as && r.attack === "A's receipt")!.res.body.data?.forgetUserReceipt).toBeNull();
    }
    const listed = responses.find((r) => r.as === 'B key' && r.attack === 'receipts of the user')!.res.body.data?.forgetUserReceipts.edges;
    expect(listed.map((e: any) => e.node.id)).not.toContain(aReceipt.id);
    expect(responses.find((r) => r.as === 'B end user' && r.attack === 'receipts of the user')!.res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it("leaves A's data, audit and receipts exactly as they were", async () => {
    const after = dataOf(await t.gateway.execute<any>(SNAPSHOT, { u: user, s: user }, { token: t.keyA }));
    expect(after).toEqual(before);
  });
});
