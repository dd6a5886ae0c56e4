import { randomUUID } from 'node:crypto';
import { ApolloClient, ApolloLink, InMemoryCache, gql, type FetchResult } from '@apollo/client';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-sse';
import { Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORGET, finalReceipt, forget, through } from '../helpers/forget.js';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { serveOverHttp, type ServedGateway } from '../helpers/http-server.js';
import { signEndUserToken } from '../helpers/jwt.js';
import { LOCAL, twoTenants, type TwoTenants } from '../helpers/providers.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitUntil } from '../helpers/upstream.js';

/**
 * memoryChanges over SSE, with the graphql-sse client (distinct connections, as Yoga serves
 * SSE) and Apollo Client through a graphql-sse link: every kind of change arrives, filtered per
 * principal, and another tenant sees nothing.
 */

const CHANGES = `subscription($u: String, $f: [MemoryFamily!]) { memoryChanges(userId: $u, families: $f) { kind family id userId backend at requestId } }`;

interface Change {
  kind: string;
  family: string | null;
  id: string;
  userId: string | null;
  backend: string | null;
  at: string;
  requestId: string;
}

interface Watch {
  changes: Change[];
  errors: unknown[];
  stop(): void;
}

function sseClient(url: string, token: string): Client {
  return createClient({ url, headers: { authorization: `Bearer ${token}` }, singleConnection: false, retryAttempts: 0 });
}

/** Subscribes and collects what arrives; resolves once the stream is open (the server has answered). */
async function watch(url: string, token: string, variables: Record<string, unknown> = {}): Promise<Watch> {
  const client = sseClient(url, token);
  const changes: Change[] = [];
  const errors: unknown[] = [];
  let connected = false;
  const stop = client.subscribe<{ memoryChanges: Change }>(
    { query: CHANGES, variables },
    {
      next: (result) => {
        if (result.data) changes.push(result.data.memoryChanges);
        if (result.errors) errors.push(...result.errors);
      },
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
    { connected: () => (connected = true) } as never,
  );
  await waitUntil(() => connected || errors.length > 0, 10_000).catch(() => undefined);
  return {
    changes,
    errors,
    stop: () => {
      stop();
      client.dispose();
    },
  };
}

describe('memoryChanges over SSE', () => {
  let t: TwoTenants;
  let served: ServedGateway;
  beforeAll(async () => {
    t = await twoTenants(LOCAL);
    served = await serveOverHttp(t.gateway);
  }, 60_000);
  afterAll(async () => {
    await served?.close();
    await t?.close();
  });

  it('streams CREATED and DELETED for single, bulk and forget changes and one FORGOTTEN per forget, filtered per principal; the other tenant sees nothing', async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    const asAlice = await signEndUserToken({ sub: alice, tenant: 'tenant-a' });
    const asAliceOfB = await signEndUserToken({ sub: alice, tenant: 'tenant-b' });

    const all = await watch(served.url, t.keyA);
    const onlyAlice = await watch(served.url, t.keyA, { u: alice });
    const onlyMemories = await watch(served.url, t.keyA, { f: ['MEMORIES'] });
    const aliceHerself = await watch(served.url, asAlice);
    const tenantB = await watch(served.url, t.keyB);
    const aliceOfB = await watch(served.url, asAliceOfB);
    const watches = [all, onlyAlice, onlyMemories, aliceHerself, tenantB, aliceOfB];
    try {
      for (const w of watches) expect(w.errors).toEqual([]);
      const run = (query: string, variables: Record<string, unknown> = {}) => t.gateway.execute<any>(query, variables, { token: t.keyA }).then((r) => dataOf(r));

      const m1 = (await run(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "one" }) { id } }`, { u: alice })).createMemory.id;
      const m2 = (await run(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "two" }) { id } }`, { u: alice })).createMemory.id;
      const m3 = (await run(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "three" }) { id } }`, { u: alice })).createMemory.id;
      const um = (await run(`mutation($u: String) { addUserMemory(input: { content: "bob's", userId: $u }) { id } }`, { u: bob })).addUserMemory.id;
      const ev = (await run(`mutation($u: ID!) { createUserEvent(userId: $u, input: { eventTip: "e" }) { id } }`, { u: alice })).createUserEvent.id;
      await run(`mutation($id: ID!, $u: String) { deleteMemory(memoryId: $id, userId: $u) { message } }`, { id: m1, u: alice });
      await run(`mutation($ids: [ID!]!, $u: String) { deleteMemories(memoryIds: $ids, userId: $u) { deletedCount } }`, { ids: [m2, 'missing'], u: alice });
      // A dry run changes nothing, so it announces nothing.
      expect((await forget(t.gateway, t.keyA, alice, true)).status).toBe('COMPLETED');
      const started = (await run(FORGET, { u: alice })).forgetUser;
      const receipt = await finalReceipt(through(t.gateway, t.keyA), started.id);
      expect(receipt.status).toBe('COMPLETED');

      await waitUntil(() => all.changes.some((c) => c.kind === 'FORGOTTEN'), 10_000);
      const line = (c: Change) => `${c.kind} ${c.family ?? '-'} ${c.id} ${c.userId ?? '-'}`;
      expect(all.changes).toHaveLength(10);
      const allIds = all.changes.map((c) => c.id);
      expect(all.changes.slice(0, 7).map(line)).toEqual([
        `CREATED MEMORIES ${m1} ${alice}`,
        `CREATED MEMORIES ${m2} ${alice}`,
        `CREATED MEMORIES ${m3} ${alice}`,
        `CREATED USER_MEMORIES ${um} ${bob}`,
        `CREATED USER_EVENTS ${ev} ${alice}`,
        `DELETED MEMORIES ${m1} ${alice}`,
        `DELETED MEMORIES ${m2} ${alice}`,
      ]);
      // The forget deletes what is left of the user (its parts run side by side), then announces itself.
      expect(all.changes.slice(7, 9).map(line).sort()).toEqual([`DELETED MEMORIES ${m3} ${alice}`, `DELETED USER_EVENTS ${ev} ${alice}`]);
      expect(line(all.changes[9]!)).toBe(`FORGOTTEN - ${receipt.id} ${alice}`);
      for (const c of all.changes) {
        expect(c.backend === null ? c.kind : c.backend).toMatch(/LOCAL|FORGOTTEN/);
        expect(Date.parse(c.at)).not.toBeNaN();
        expect(c.requestId).toEqual(expect.any(String));
      }
      // The forget's changes carry the request that asked for it.
      expect(all.changes.filter((c) => c.kind !== 'CREATED' && c.id !== m1 && c.id !== m2).every((c) => c.requestId === all.changes.at(-1)!.requestId)).toBe(true);

      // Ordered per subscriber: a last change of each subscriber's own shows everything before it has arrived.
      const marker = (await run(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "marker" }) { id } }`, { u: alice })).createMemory.id;
      const markerB = dataOf(await t.gateway.execute<any>(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "b" }) { id } }`, { u: alice }, { token: t.keyB })).createMemory.id;
      for (const w of [onlyAlice, onlyMemories, aliceHerself]) await waitUntil(() => w.changes.some((c) => c.id === marker), 10_000);
      for (const w of [tenantB, aliceOfB]) await waitUntil(() => w.changes.some((c) => c.id === markerB), 10_000);

      expect(onlyAlice.changes.every((c) => c.userId === alice)).toBe(true);
      expect(onlyAlice.changes.map((c) => c.id)).not.toContain(um);
      expect(onlyAlice.changes.map((c) => c.id)).toEqual([...allIds.filter((id) => id !== um), marker]);
      expect(new Set(onlyMemories.changes.map((c) => c.family))).toEqual(new Set(['MEMORIES', null]));
      expect(onlyMemories.changes.filter((c) => c.kind === 'FORGOTTEN')).toHaveLength(1);
      // Alice with her own token: her changes only, none of Bob's.
      expect(aliceHerself.changes.map((c) => c.id)).toEqual(onlyAlice.changes.map((c) => c.id));
      // Tenant B, and B's user with the same id as Alice: only B's own change, nothing of A's.
      expect(tenantB.changes.map((c) => c.id)).toEqual([markerB]);
      expect(aliceOfB.changes.map((c) => c.id)).toEqual([markerB]);
    } finally {
      for (const w of watches) w.stop();
    }
  }, 60_000);

  it("refuses an end user who asks for another user's changes (FORBIDDEN) and a request without a token (UNAUTHENTICATED)", async () => {
    const asAlice = await signEndUserToken({ sub: 'alice', tenant: 'tenant-a' });
    const forbidden = await watch(served.url, asAlice, { u: 'bob' });
    await waitUntil(() => forbidden.errors.length > 0, 10_000);
    forbidden.stop();
    expect(JSON.stringify(forbidden.errors)).toContain('FORBIDDEN');

    const res = await fetch(served.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: CHANGES }),
    });
    expect(res.status).toBe(401);
  });

  it('works as curl speaks it: POST with Accept: text/event-stream gives `event: next` frames', async () => {
    const abort = new AbortController();
    const res = await fetch(served.url, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${t.keyA}` },
      body: JSON.stringify({ query: `subscription { memoryChanges(families: [USER_MEMORIES]) { kind family id } }` }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const created = dataOf(await t.gateway.execute<any>(`mutation { addUserMemory(input: { content: "x", userId: "carol" }) { id } }`, {}, { token: t.keyA })).addUserMemory.id;
    while (!text.includes(created)) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    expect(text).toContain(`event: next\ndata: {"data":{"memoryChanges":{"kind":"CREATED","family":"USER_MEMORIES","id":"${created}"}}}`);
  });

  it("works with Apollo Client's subscriptions through a graphql-sse link", async () => {
    /** The graphql-sse client as an Apollo link (graphql-sse's documented Apollo recipe). */
    class SSELink extends ApolloLink {
      constructor(private readonly client: Client) {
        super();
      }
      override request(operation: ApolloLink.Operation) {
        return new Observable<FetchResult>((sink) =>
          this.client.subscribe({ query: print(operation.query), variables: operation.variables, operationName: operation.operationName }, {
            next: (value) => sink.next(value as FetchResult),
            complete: () => sink.complete(),
            error: (error) => sink.error(error),
          }),
        );
      }
    }
    const sse = sseClient(served.url, t.keyA);
    const apollo = new ApolloClient({ link: new SSELink(sse) as unknown as ApolloLink, cache: new InMemoryCache() });
    const seen: { kind: string; id: string }[] = [];
    const subscription = apollo
      .subscribe<{ memoryChanges: { kind: string; id: string } }>({ query: gql`subscription { memoryChanges(userId: "dave") { kind id } }` })
      .subscribe({ next: (result) => result.data && seen.push(result.data.memoryChanges) });
    try {
      // Apollo says nothing when the stream opens: create until a change made after subscribing arrives.
      let created: string | undefined;
      const opened = Date.now();
      while (seen.length === 0 && Date.now() - opened < 10_000) {
        created = dataOf(await t.gateway.execute<any>(`mutation { createMemory(input: { userId: "dave", memory: "x" }) { id } }`, {}, { token: t.keyA })).createMemory.id;
        await waitUntil(() => seen.some((c) => c.id === created), 1000).catch(() => undefined);
      }
      expect(seen.at(-1)).toMatchObject({ kind: 'CREATED', id: created });
      // A delete reaches a per-user subscription when it names the user (otherwise its user is unknown).
      dataOf(await t.gateway.execute<any>(`mutation($id: ID!) { deleteMemory(memoryId: $id, userId: "dave") { message } }`, { id: created }, { token: t.keyA }));
      await waitUntil(() => seen.some((c) => c.kind === 'DELETED' && c.id === created), 10_000);
    } finally {
      subscription.unsubscribe();
      sse.dispose();
    }
  });
});

describe('memoryChanges across instances (REDIS_URL)', () => {
  let redis: RedisServer;
  let first: TestGateway;
  let second: TestGateway;
  let served: ServedGateway;
  beforeAll(async () => {
    redis = await startRedis();
    // Two instances on one PostgreSQL database and one Redis, as in production.
    first = await startGateway({ REDIS_URL: redis.url }, { store: 'postgresql' });
    second = await startGateway({ REDIS_URL: redis.url, DATABASE_URL: first.config.databaseUrl });
    served = await serveOverHttp(second);
  }, 60_000);
  afterAll(async () => {
    await served?.close();
    await second?.close();
    await first?.close();
    await redis?.destroy();
  });

  it("a subscriber on one instance sees the changes made through the other, its own tenant's only", async () => {
    const keyA = await first.createKey('tenant-a');
    const keyB = await first.createKey('tenant-b');
    const user = randomUUID();
    const mine = await watch(served.url, keyA, { u: user });
    const other = await watch(served.url, keyB);
    try {
      expect([...mine.errors, ...other.errors]).toEqual([]);
      const run = (query: string, variables: Record<string, unknown>) => first.execute<any>(query, variables, { token: keyA }).then((r) => dataOf(r));
      const id = (await run(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "x" }) { id } }`, { u: user })).createMemory.id;
      await run(`mutation($ids: [ID!]!, $u: String) { deleteMemories(memoryIds: $ids, userId: $u) { deletedCount } }`, { ids: [id], u: user });
      await waitUntil(() => mine.changes.length >= 2, 10_000);
      expect(mine.changes.map((c) => `${c.kind} ${c.family} ${c.id} ${c.userId}`)).toEqual([`CREATED MEMORIES ${id} ${user}`, `DELETED MEMORIES ${id} ${user}`]);
      expect(other.changes).toEqual([]);
    } finally {
      mine.stop();
      other.stop();
    }
  });
});

describe('memoryChanges when the instance drains', () => {
  it('completes every open stream at once, so SIGTERM does not wait on subscribers, and refuses none of the requests in flight', async () => {
    const gateway = await startGateway();
    const served = await serveOverHttp(gateway);
    try {
      const key = await gateway.createKey('tenant-a');
      const client = sseClient(served.url, key);
      let completed = false;
      const errors: unknown[] = [];
      let connected = false;
      client.subscribe({ query: CHANGES }, { next: () => undefined, error: (e) => errors.push(e), complete: () => (completed = true) }, {
        connected: () => (connected = true),
      } as never);
      await waitUntil(() => connected, 10_000);
      expect(completed).toBe(false);

      gateway.app.drain();
      await waitUntil(() => completed, 5_000);
      expect(errors).toEqual([]);
      client.dispose();
      // A subscription that arrives while draining ends at once as well.
      const late = sseClient(served.url, key);
      let lateCompleted = false;
      late.subscribe({ query: CHANGES }, { next: () => undefined, error: (e) => errors.push(e), complete: () => (lateCompleted = true) });
      await waitUntil(() => lateCompleted || errors.length > 0, 5_000);
      expect(errors).toEqual([]);
      late.dispose();
    } finally {
      await served.close();
      await gateway.close();
    }
  });
});
