import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, errorOf } from '../helpers/gateway.js';
import type { FamilyHarness, UserEventSeed } from './harness.js';
import { expectNewestFirst, readAll, readPage } from './pagination.js';

/** The list and delete documents every user-event backend is checked with. */
export const LIST = /* GraphQL */ `
  query Events($userId: ID!, $first: Int, $after: String) {
    userEvents(userId: $userId, first: $first, after: $after) {
      edges { cursor node { id userId eventTip eventTags { tag value } profileDelta { content topic subTopic } createdAt updatedAt backend } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

export const DELETE = /* GraphQL */ `
  mutation Delete($userId: ID!, $eventId: ID!) {
    deleteUserEvent(userId: $userId, eventId: $eventId) { userId eventId deleted backend }
  }
`;

const CREATE = /* GraphQL */ `
  mutation Create($userId: ID!, $input: CreateUserEventInput!) {
    createUserEvent(userId: $userId, input: $input) { id userId eventTip eventTags { tag value } profileDelta { content topic subTopic } backend }
  }
`;

/** The behaviour every user-event backend shows through the gateway. */
export function userEventContract(name: string, start: () => Promise<FamilyHarness<UserEventSeed>>) {
  describe(`user events contract: ${name}`, () => {
    let h: FamilyHarness<UserEventSeed>;
    let user: string;
    beforeEach(async () => {
      h = await start();
      user = randomUUID();
    });
    afterEach(async () => h.close());

    const seedMany = async (n: number, userId = user, tenant = h.tenants[0]) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(await h.seed(tenant, { userId, eventTip: `event ${i}` }));
      return ids;
    };
    const list = (vars: Record<string, unknown>, tenant = h.tenants[0]) => readPage(h.gateway, tenant.token, LIST, 'userEvents', { userId: user, ...vars });

    it('lists nothing for a user without events', async () => {
      const page = await list({ first: 10 });
      expect(page).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it('lists every event of the user, newest first, with its backend', async () => {
      const ids = await seedMany(3);
      await seedMany(1, randomUUID()); // someone else's
      const page = await list({ first: 10 });
      expect(page.edges.map((e) => e.node.id).sort()).toEqual([...ids].sort());
      expect(page.edges.every((e) => (e.node as any).backend === h.backend && (e.node as any).userId === user)).toBe(true);
      expectNewestFirst(page);
      expect(page.pageInfo.hasNextPage).toBe(false);
    });

    it('says there is no next page when exactly `first` events exist', async () => {
      await seedMany(3);
      const page = await list({ first: 3 });
      expect(page.edges).toHaveLength(3);
      expect(page.pageInfo.hasNextPage).toBe(false);
    });

    it('pages through with first/after without gaps or repeats', async () => {
      const ids = await seedMany(5);
      const all = await readAll(h.gateway, h.tenants[0].token, LIST, 'userEvents', { userId: user }, 2);
      expect(all).toHaveLength(5);
      expect(new Set(all)).toEqual(new Set(ids));
      const whole = await list({ first: 100 });
      expect(all).toEqual(whole.edges.map((e) => e.node.id));
    });

    it('returns an empty page past the end', async () => {
      await seedMany(2);
      const page = await list({ first: 2 });
      const past = await list({ first: 2, after: page.pageInfo.endCursor });
      expect(past).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it('keeps a cursor valid after the event it points at is deleted', async () => {
      await seedMany(5);
      const whole = (await list({ first: 100 })).edges.map((e) => e.node.id);
      const first = await list({ first: 2 });
      const pointedAt = first.edges[1]!.node.id;
      dataOf(await h.gateway.execute(DELETE, { userId: user, eventId: pointedAt }, { token: h.tenants[0].token }));
      const next = await list({ first: 2, after: first.pageInfo.endCursor });
      expect(next.edges.map((e) => e.node.id)).toEqual(whole.slice(2, 4));
    });

    it('deletes an event permanently, then answers NOT_FOUND for it', async () => {
      const [id] = await seedMany(2);
      const deleted = dataOf(await h.gateway.execute(DELETE, { userId: user, eventId: id }, { token: h.tenants[0].token }));
      expect(deleted.deleteUserEvent).toEqual({ userId: user, eventId: id, deleted: true, backend: h.backend });
      const after = await list({ first: 10 });
      expect(after.edges.map((e) => e.node.id)).not.toContain(id);
      expect(after.edges).toHaveLength(1);
      const again = errorOf(await h.gateway.execute(DELETE, { userId: user, eventId: id }, { token: h.tenants[0].token }));
      expect(again.extensions?.code).toBe('NOT_FOUND');
    });

    it('answers NOT_FOUND for an unknown event and deletes nothing', async () => {
      await seedMany(1);
      const err = errorOf(await h.gateway.execute(DELETE, { userId: user, eventId: randomUUID() }, { token: h.tenants[0].token }));
      expect(err.extensions?.code).toBe('NOT_FOUND');
      expect((await list({ first: 10 })).edges).toHaveLength(1);
    });

    it("never shows, counts or deletes another tenant's events", async () => {
      const [id] = await seedMany(2);
      const other = h.tenants[1];
      expect((await list({ first: 10 }, other)).edges).toEqual([]);
      const err = errorOf(await h.gateway.execute(DELETE, { userId: user, eventId: id }, { token: other.token }));
      expect(err.extensions?.code).toBe('NOT_FOUND');
      expect((await list({ first: 10 })).edges).toHaveLength(2);
    });

    it('rejects ids that are not UUID v4/v5 before touching the backend', async () => {
      for (const bad of ['not-a-uuid', '00000000-0000-1000-8000-000000000000', '']) {
        const err = errorOf(await h.gateway.execute(LIST, { userId: bad, first: 1 }, { token: h.tenants[0].token }));
        expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userId' });
      }
      const err = errorOf(await h.gateway.execute(DELETE, { userId: user, eventId: 'abc' }, { token: h.tenants[0].token }));
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'eventId' });
    });

    it('rejects first outside 1..100 and foreign cursors', async () => {
      for (const first of [0, 101, -1]) {
        const err = errorOf(await h.gateway.execute(LIST, { userId: user, first }, { token: h.tenants[0].token }));
        expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
      }
      const err = errorOf(await h.gateway.execute(LIST, { userId: user, first: 1, after: 'bm90LWEtY3Vyc29y' }, { token: h.tenants[0].token }));
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    });

    it('audits every delete attempt with its outcome and no content', async () => {
      const [id] = await seedMany(1);
      await h.gateway.execute(DELETE, { userId: user, eventId: id }, { token: h.tenants[0].token });
      await h.gateway.execute(DELETE, { userId: user, eventId: id }, { token: h.tenants[0].token });
      const audit = dataOf(
        await h.gateway.execute(
          `query($u: String) { deletionAudit(userId: $u) { edges { node { operation backend targetId userId outcome actor requestId } } } }`,
          { u: user },
          { token: h.tenants[0].token },
        ),
      ) as any;
      const nodes = audit.deletionAudit.edges.map((e: any) => e.node);
      expect(nodes.map((n: any) => n.outcome)).toEqual(['not_found', 'deleted']);
      for (const n of nodes) {
        expect(n).toMatchObject({ operation: 'deleteUserEvent', backend: h.backend, targetId: id, userId: user });
        expect(n.actor).toMatch(/^key:/);
        expect(JSON.stringify(n)).not.toContain('event 0');
      }
    });

    it('creates an event where the backend offers it, else answers NOT_SUPPORTED and writes nothing', async () => {
      const input = { eventTip: 'asked about flights', eventTags: [{ tag: 'topic', value: 'travel' }], profileDelta: [{ content: 'likes Lisbon', topic: 'travel' }] };
      const res = await h.gateway.execute(CREATE, { userId: user, input }, { token: h.tenants[0].token });
      if (h.canCreate) {
        const created = (dataOf(res) as any).createUserEvent;
        expect(created).toMatchObject({ userId: user, eventTip: 'asked about flights', backend: h.backend });
        expect(created.profileDelta).toEqual([{ content: 'likes Lisbon', topic: 'travel', subTopic: null }]);
        expect((await list({ first: 10 })).edges.map((e) => e.node.id)).toEqual([created.id]);
      } else {
        expect(errorOf(res).extensions).toMatchObject({ code: 'NOT_SUPPORTED' });
        expect((await list({ first: 10 })).edges).toEqual([]);
      }
    });
  });
}

