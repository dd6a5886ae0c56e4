import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, errorOf } from '../helpers/gateway.js';
import type { FamilyHarness, UserMemorySeed } from './harness.js';
import { expectNewestFirst, readAll, readPage } from './pagination.js';

const LIST = /* GraphQL */ `
  query UserMemories($first: Int, $after: String, $userId: String, $agentId: String) {
    userMemories(first: $first, after: $after, userId: $userId, agentId: $agentId) {
      edges { cursor node { id content userId agentId userPrompt context subTenantId createdAt updatedAt backend } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const DELETE = /* GraphQL */ `
  mutation Delete($id: ID!) { deleteUserMemory(userMemoryId: $id) { userMemoryId deleted backend } }
`;

const ADD = /* GraphQL */ `
  mutation Add($input: AddUserMemoryInput!) {
    addUserMemory(input: $input) { id content userId agentId userPrompt context backend }
  }
`;

/** The behaviour every user-memory backend shows through the gateway. */
export function userMemoryContract(name: string, start: () => Promise<FamilyHarness<UserMemorySeed>>) {
  describe(`user memories contract: ${name}`, () => {
    let h: FamilyHarness<UserMemorySeed>;
    let user: string;
    beforeEach(async () => {
      h = await start();
      user = `user-${randomUUID()}`;
    });
    afterEach(async () => h.close());

    const seedMany = async (n: number, extra: Partial<UserMemorySeed> = {}, tenant = h.tenants[0]) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(await h.seed(tenant, { content: `memory ${i}`, userId: user, agentId: 'agent-1', ...extra }));
      return ids;
    };
    const list = (vars: Record<string, unknown>, tenant = h.tenants[0]) => readPage(h.gateway, tenant.token, LIST, 'userMemories', vars);
    const del = (id: string, tenant = h.tenants[0]) => h.gateway.execute(DELETE, { id }, { token: tenant.token });

    it('lists nothing when there are no memories', async () => {
      expect(await list({ first: 10 })).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it('lists memories newest first with their backend', async () => {
      const ids = await seedMany(3);
      const page = await list({ first: 10 });
      expect(page.edges.map((e) => e.node.id).sort()).toEqual([...ids].sort());
      expect(page.edges.every((e) => (e.node as any).backend === h.backend)).toBe(true);
      expectNewestFirst(page);
    });

    it('filters by user and by agent without breaking page sizes', async () => {
      // A backend that keeps users apart only as sub-tenants gets each user's memories in theirs.
      const bySubTenant = h.userScope === 'subTenant';
      const mine = await seedMany(3, bySubTenant ? { subTenantId: user } : {});
      await seedMany(4, { userId: 'someone-else', agentId: 'agent-2', ...(bySubTenant && { subTenantId: 'someone-else' }) });
      const byUser = await readAll(h.gateway, h.tenants[0].token, LIST, 'userMemories', { userId: user }, 2);
      expect(new Set(byUser)).toEqual(new Set(mine));
      expect(byUser).toHaveLength(3);
      const byAgent = await list({ first: 10, agentId: 'agent-2' });
      if (bySubTenant) {
        // Such a backend records no agent, so an agent filter matches nothing.
        expect(byAgent).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
      } else {
        expect(byAgent.edges).toHaveLength(4);
        expect(byAgent.edges.every((e) => (e.node as any).agentId === 'agent-2')).toBe(true);
      }
      const firstPage = await list({ first: 2, userId: user });
      expect(firstPage.edges).toHaveLength(2);
      expect(firstPage.pageInfo.hasNextPage).toBe(true);
    });

    it('says there is no next page when exactly `first` memories exist', async () => {
      await seedMany(3);
      const page = await list({ first: 3 });
      expect(page.edges).toHaveLength(3);
      expect(page.pageInfo.hasNextPage).toBe(false);
    });

    it('pages through with first/after without gaps or repeats, and is empty past the end', async () => {
      const ids = await seedMany(5);
      const all = await readAll(h.gateway, h.tenants[0].token, LIST, 'userMemories', {}, 2);
      expect(new Set(all)).toEqual(new Set(ids));
      expect(all).toHaveLength(5);
      const last = await list({ first: 5 });
      expect(await list({ first: 5, after: last.pageInfo.endCursor })).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it('keeps a cursor valid after the memory it points at is deleted', async () => {
      await seedMany(5);
      const whole = (await list({ first: 100 })).edges.map((e) => e.node.id);
      const first = await list({ first: 2 });
      dataOf(await del(first.edges[1]!.node.id));
      const next = await list({ first: 2, after: first.pageInfo.endCursor });
      expect(next.edges.map((e) => e.node.id)).toEqual(whole.slice(2, 4));
    });

    it('deletes a memory permanently, then answers NOT_FOUND for it', async () => {
      const [id] = await seedMany(2);
      expect(dataOf(await del(id!)).deleteUserMemory).toEqual({ userMemoryId: id, deleted: true, backend: h.backend });
      const after = await list({ first: 10 });
      expect(after.edges.map((e) => e.node.id)).not.toContain(id);
      expect(after.edges).toHaveLength(1);
      expect(errorOf(await del(id!)).extensions?.code).toBe('NOT_FOUND');
    });

    it("never shows, counts or deletes another tenant's memories", async () => {
      const [id] = await seedMany(2);
      expect((await list({ first: 10 }, h.tenants[1])).edges).toEqual([]);
      expect(errorOf(await del(id!, h.tenants[1])).extensions?.code).toBe('NOT_FOUND');
      expect((await list({ first: 10 })).edges).toHaveLength(2);
    });

    it('rejects first outside 1..100, foreign cursors and oversized ids', async () => {
      for (const first of [0, 101, -1]) {
        expect(errorOf(await h.gateway.execute(LIST, { first }, { token: h.tenants[0].token })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
      }
      expect(errorOf(await h.gateway.execute(LIST, { first: 1, after: 'garbage' }, { token: h.tenants[0].token })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
      expect(errorOf(await del('x'.repeat(10_000))).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userMemoryId' });
    });

    it('audits every delete attempt with its outcome', async () => {
      const [id] = await seedMany(1);
      await del(id!);
      await del(id!);
      const audit = dataOf(
        await h.gateway.execute(`{ deletionAudit { edges { node { operation backend targetId outcome } } } }`, {}, { token: h.tenants[0].token }),
      ) as any;
      expect(audit.deletionAudit.edges.map((e: any) => e.node)).toEqual([
        { operation: 'deleteUserMemory', backend: h.backend, targetId: id, outcome: 'not_found' },
        { operation: 'deleteUserMemory', backend: h.backend, targetId: id, outcome: 'deleted' },
      ]);
    });

    it('adds a memory where the backend offers it, else answers NOT_SUPPORTED and writes nothing', async () => {
      const input = { content: 'prefers window seats', userId: user, agentId: 'agent-1', userPrompt: 'book me a flight', context: ['travel'] };
      const res = await h.gateway.execute(ADD, { input }, { token: h.tenants[0].token });
      if (h.canCreate) {
        const added = (dataOf(res) as any).addUserMemory;
        expect(added).toMatchObject({ content: 'prefers window seats', agentId: 'agent-1', backend: h.backend });
        expect((await list({ first: 10 })).edges.map((e) => e.node.id)).toContain(added.id);
      } else {
        expect(errorOf(res).extensions).toMatchObject({ code: 'NOT_SUPPORTED' });
        expect((await list({ first: 10 })).edges).toEqual([]);
      }
    });
  });
}
