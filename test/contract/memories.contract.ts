import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, errorOf } from '../helpers/gateway.js';
import type { FamilyHarness, MemorySeed } from './harness.js';
import { expectNewestFirst, readAll, readPage } from './pagination.js';

const LIST = /* GraphQL */ `
  query Memories($first: Int, $after: String, $userId: String) {
    memories(first: $first, after: $after, userId: $userId) {
      edges { cursor node { id userId memory topics metadata createdAt updatedAt backend } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const DELETE = /* GraphQL */ `
  mutation Delete($id: ID!, $userId: String) { deleteMemory(memoryId: $id, userId: $userId) { memoryId message backend } }
`;

const CREATE = /* GraphQL */ `
  mutation Create($input: CreateMemoryInput!) { createMemory(input: $input) { id userId memory topics metadata backend } }
`;

/** The behaviour every memory backend shows through the gateway. */
export function memoryContract(name: string, start: () => Promise<FamilyHarness<MemorySeed>>) {
  describe(`memories contract: ${name}`, () => {
    let h: FamilyHarness<MemorySeed>;
    let user: string;
    beforeEach(async () => {
      h = await start();
      user = `user-${randomUUID()}`;
    });
    afterEach(async () => h.close());

    const seedMany = async (n: number, userId = user, tenant = h.tenants[0]) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(await h.seed(tenant, { userId, memory: `remembered ${i}` }));
      return ids;
    };
    const list = (vars: Record<string, unknown>, tenant = h.tenants[0]) => readPage(h.gateway, tenant.token, LIST, 'memories', vars);
    const del = (id: string, userId: string | null = user, tenant = h.tenants[0]) => h.gateway.execute(DELETE, { id, userId }, { token: tenant.token });

    it('lists nothing when there are no memories', async () => {
      expect(await list({ first: 10, userId: user })).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it("lists a user's memories newest first with their backend", async () => {
      const ids = await seedMany(3);
      await seedMany(2, 'someone-else');
      const page = await list({ first: 10, userId: user });
      expect(page.edges.map((e) => e.node.id).sort()).toEqual([...ids].sort());
      expect(page.edges.every((e) => (e.node as any).backend === h.backend && (e.node as any).userId === user)).toBe(true);
      expectNewestFirst(page);
      expect((await list({ first: 10 })).edges).toHaveLength(5);
    });

    it('says there is no next page when exactly `first` memories exist', async () => {
      await seedMany(3);
      const page = await list({ first: 3, userId: user });
      expect(page.edges).toHaveLength(3);
      expect(page.pageInfo.hasNextPage).toBe(false);
    });

    it('pages through with first/after without gaps or repeats, and is empty past the end', async () => {
      const ids = await seedMany(5);
      const all = await readAll(h.gateway, h.tenants[0].token, LIST, 'memories', { userId: user }, 2);
      expect(all).toHaveLength(5);
      expect(new Set(all)).toEqual(new Set(ids));
      const last = await list({ first: 5, userId: user });
      expect(await list({ first: 5, userId: user, after: last.pageInfo.endCursor })).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it('keeps a cursor valid after the memory it points at is deleted', async () => {
      await seedMany(5);
      const whole = (await list({ first: 100, userId: user })).edges.map((e) => e.node.id);
      const first = await list({ first: 2, userId: user });
      dataOf(await del(first.edges[1]!.node.id));
      const next = await list({ first: 2, userId: user, after: first.pageInfo.endCursor });
      expect(next.edges.map((e) => e.node.id)).toEqual(whole.slice(2, 4));
    });

    it('deletes a memory permanently, then answers NOT_FOUND for it', async () => {
      const [id] = await seedMany(2);
      const payload = (dataOf(await del(id!)) as any).deleteMemory;
      expect(payload).toMatchObject({ memoryId: id, backend: h.backend });
      expect(payload.message).toEqual(expect.any(String));
      const after = await list({ first: 10, userId: user });
      expect(after.edges.map((e) => e.node.id)).toEqual(expect.not.arrayContaining([id]));
      expect(after.edges).toHaveLength(1);
      expect(errorOf(await del(id!)).extensions?.code).toBe('NOT_FOUND');
    });

    it("never shows, counts or deletes another tenant's memories", async () => {
      const [id] = await seedMany(2);
      expect((await list({ first: 10, userId: user }, h.tenants[1])).edges).toEqual([]);
      expect((await list({ first: 10 }, h.tenants[1])).edges).toEqual([]);
      expect(errorOf(await del(id!, user, h.tenants[1])).extensions?.code).toBe('NOT_FOUND');
      expect((await list({ first: 10, userId: user })).edges).toHaveLength(2);
    });

    it('rejects first outside 1..100 and foreign cursors', async () => {
      for (const first of [0, 101, -1]) {
        expect(errorOf(await h.gateway.execute(LIST, { first }, { token: h.tenants[0].token })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
      }
      expect(errorOf(await h.gateway.execute(LIST, { first: 1, after: 'garbage' }, { token: h.tenants[0].token })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    });

    it('audits every delete attempt with its outcome', async () => {
      const [id] = await seedMany(1);
      await del(id!);
      await del(id!);
      const audit = dataOf(
        await h.gateway.execute(`{ deletionAudit { edges { node { operation backend targetId userId outcome } } } }`, {}, { token: h.tenants[0].token }),
      ) as any;
      expect(audit.deletionAudit.edges.map((e: any) => e.node)).toEqual([
        { operation: 'deleteMemory', backend: h.backend, targetId: id, userId: user, outcome: 'not_found' },
        { operation: 'deleteMemory', backend: h.backend, targetId: id, userId: user, outcome: 'deleted' },
      ]);
    });

    it('creates a memory where the backend offers it, else answers NOT_SUPPORTED and writes nothing', async () => {
      const input = { userId: user, memory: 'allergic to peanuts', topics: ['health'], metadata: { source: 'chat' } };
      const res = await h.gateway.execute(CREATE, { input }, { token: h.tenants[0].token });
      if (h.canCreate) {
        const created = (dataOf(res) as any).createMemory;
        expect(created).toMatchObject({ userId: user, memory: 'allergic to peanuts', topics: ['health'], metadata: { source: 'chat' }, backend: h.backend });
        expect((await list({ first: 10, userId: user })).edges.map((e) => e.node.id)).toEqual([created.id]);
      } else {
        expect(errorOf(res).extensions).toMatchObject({ code: 'NOT_SUPPORTED' });
        expect((await list({ first: 10, userId: user })).edges).toEqual([]);
      }
    });
  });
}
