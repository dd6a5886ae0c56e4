import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.js';
import { dataOf, errorOf, startGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { signEndUserToken, TEST_JWT_SECRET } from '../helpers/jwt.js';
import { keyParts } from '../helpers/keys.js';
import { CORE_OPERATIONS } from '../helpers/operations.js';

/** What a client must see for any authentication failure: 401, a Bearer challenge, no data. */
function expectUnauthenticated(res: GraphQLResponse) {
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
  const error = errorOf(res);
  expect(error.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  expect(res.body.data ?? null).toBeNull();
  expect(JSON.stringify(res.body)).not.toMatch(/stack|at .*\.js:\d+/);
}

describe('authentication: tenant API keys', () => {
  let gateway: TestGateway;
  let goodKey: string;
  let revokedKey: string;
  let knownId: string;

  beforeAll(async () => {
    gateway = await startGateway();
    goodKey = await gateway.createKey('acme');
    const revoked = await createApiKey(gateway.app.prisma, 'acme');
    revokedKey = revoked.key;
    knownId = revoked.id;
    expect(await revokeApiKey(gateway.app.prisma, revoked.id)).toBe(true);
  });
  afterAll(async () => gateway?.close());

  const badCredentials: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['an empty Authorization header', { authorization: '' }],
    ['a non-Bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['"Bearer" without a token', { authorization: 'Bearer' }],
    ['a token with spaces', { authorization: 'Bearer mgw_a b' }],
    ['a key without the Bearer scheme', { authorization: 'mgw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }],
    ['a malformed key', { authorization: 'Bearer mgw_nope' }],
    ['an unknown key', { authorization: 'Bearer mgw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }],
    ['a known key id with a wrong secret', { authorization: `Bearer mgw_${'0'.repeat(12)}_${'B'.repeat(43)}` }],
    ['a JWT while end-user tokens are disabled', { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' }],
  ];

  it.each(CORE_OPERATIONS)('$name answers UNAUTHENTICATED with HTTP 401 for every kind of bad credential', async (op) => {
    for (const [, headers] of badCredentials) {
      expectUnauthenticated(await gateway.execute(op.query, op.variables(), { headers }));
    }
    expectUnauthenticated(await gateway.execute(op.query, op.variables(), { token: revokedKey }));
    // A real key id with someone else's secret is refused as well.
    const forged = `mgw_${knownId}_${keyParts(goodKey).secret}`;
    expectUnauthenticated(await gateway.execute(op.query, op.variables(), { token: forged }));
  });

  it('writes nothing and audits nothing for unauthenticated requests', async () => {
    for (const op of CORE_OPERATIONS) await gateway.execute(op.query, op.variables(), { token: revokedKey });
    const data = dataOf(
      await gateway.execute<any>(
        `{ userMemories { edges { node { id } } } memories { edges { node { id } } } deletionAudit { edges { node { id } } } }`,
        {},
        { token: goodKey },
      ),
    );
    expect(data).toEqual({ userMemories: { edges: [] }, memories: { edges: [] }, deletionAudit: { edges: [] } });
  });

  it('accepts the scheme in any case and a valid key right after refusing bad ones', async () => {
    const res = await gateway.execute(`{ memories { edges { node { id } } } }`, {}, { headers: { authorization: `bearer ${goodKey}` } });
    expect(dataOf(res)).toEqual({ memories: { edges: [] } });
  });

  it('never echoes the presented key in the error', async () => {
    const res = await gateway.execute(`{ memories { edges { node { id } } } }`, {}, { token: revokedKey });
    expect(JSON.stringify(res.body)).not.toContain(keyParts(revokedKey).secret);
    expect(gateway.logs.join('\n')).not.toContain(keyParts(revokedKey).secret);
  });
});

describe('authentication and authorization: end-user JWTs', () => {
  let gateway: TestGateway;
  let tenantKey: string;
  const me = randomUUID();
  const someoneElse = randomUUID();

  beforeAll(async () => {
    gateway = await startGateway({ JWT_SECRET: TEST_JWT_SECRET });
    tenantKey = await gateway.createKey('acme');
    await gateway.createKey('globex');
  });
  afterAll(async () => gateway?.close());

  const asUser = async (userId = me, tenant = 'acme') => signEndUserToken({ sub: userId, tenant });

  it('refuses invalid tokens with UNAUTHENTICATED and HTTP 401', async () => {
    const query = `{ memories { edges { node { id } } } }`;
    const tokens = [
      await signEndUserToken({ sub: me, tenant: 'acme' }, { secret: 'another-secret-0123456789abcdefghijklmn' }),
      await signEndUserToken({ sub: me, tenant: 'acme' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      await signEndUserToken({ sub: me }),
      await signEndUserToken({ tenant: 'acme' }),
      // alg "none": an unsigned token must never be accepted.
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: me, tenant: 'acme' })).toString('base64url')}.`,
    ];
    for (const token of tokens) expectUnauthenticated(await gateway.execute(query, {}, { token }));
  });

  it('lets an end user create, list and delete their own data in all three families', async () => {
    const token = await asUser();
    const event = dataOf(
      await gateway.execute<any>(`mutation($u: ID!) { createUserEvent(userId: $u, input: { eventTip: "mine" }) { id userId } }`, { u: me }, { token }),
    ).createUserEvent;
    expect(event.userId).toBe(me);
    // No userId on a memory input means "me" for an end user.
    const userMemory = dataOf(await gateway.execute<any>(`mutation { addUserMemory(input: { content: "mine" }) { id userId } }`, {}, { token })).addUserMemory;
    expect(userMemory.userId).toBe(me);
    const memory = dataOf(
      await gateway.execute<any>(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "mine" }) { id userId } }`, { u: me }, { token }),
    ).createMemory;
    expect(memory.userId).toBe(me);

    const lists = dataOf(
      await gateway.execute<any>(
        `query($u: ID!) { userEvents(userId: $u) { edges { node { id } } } userMemories { edges { node { id } } } memories { edges { node { id } } } }`,
        { u: me },
        { token },
      ),
    );
    expect(lists.userEvents.edges.map((e: any) => e.node.id)).toEqual([event.id]);
    expect(lists.userMemories.edges.map((e: any) => e.node.id)).toEqual([userMemory.id]);
    expect(lists.memories.edges.map((e: any) => e.node.id)).toEqual([memory.id]);

    expect(dataOf(await gateway.execute<any>(`mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`, { u: me, e: event.id }, { token })).deleteUserEvent.deleted).toBe(true);
    expect(dataOf(await gateway.execute<any>(`mutation($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`, { id: userMemory.id }, { token })).deleteUserMemory.deleted).toBe(true);
    expect(dataOf(await gateway.execute<any>(`mutation($id: ID!) { deleteMemory(memoryId: $id) { message } }`, { id: memory.id }, { token })).deleteMemory.message).toEqual(expect.any(String));

    // The tenant sees the end user's deletes in its audit trail, with the user as actor.
    const audit = dataOf(await gateway.execute<any>(`{ deletionAudit { edges { node { operation outcome actor userId } } } }`, {}, { token: tenantKey }));
    expect(audit.deletionAudit.edges.map((e: any) => e.node).filter((n: any) => n.actor === `user:${me}`)).toEqual([
      { operation: 'deleteMemory', outcome: 'deleted', actor: `user:${me}`, userId: me },
      { operation: 'deleteUserMemory', outcome: 'deleted', actor: `user:${me}`, userId: me },
      { operation: 'deleteUserEvent', outcome: 'deleted', actor: `user:${me}`, userId: me },
    ]);
  });

  const naming = (other: string) => [
    { name: 'userEvents', query: `query($o: ID!) { userEvents(userId: $o) { edges { node { id } } } }` },
    { name: 'createUserEvent', query: `mutation($o: ID!) { createUserEvent(userId: $o, input: { eventTip: "x" }) { id } }` },
    { name: 'deleteUserEvent', query: `mutation($o: ID!) { deleteUserEvent(userId: $o, eventId: "${randomUUID()}") { deleted } }` },
    { name: 'userMemories', query: `query($o: String) { userMemories(userId: $o) { edges { node { id } } } }` },
    { name: 'addUserMemory', query: `mutation($o: String) { addUserMemory(input: { content: "x", userId: $o }) { id } }` },
    { name: 'memories', query: `query($o: String) { memories(userId: $o) { edges { node { id } } } }` },
    { name: 'createMemory', query: `mutation($o: String!) { createMemory(input: { userId: $o, memory: "x" }) { id } }` },
    { name: 'deleteMemory', query: `mutation($o: String) { deleteMemory(memoryId: "${randomUUID()}", userId: $o) { message } }` },
  ].map((c) => ({ ...c, variables: { o: other } }));

  it('answers FORBIDDEN when an end user names another user, and writes nothing', async () => {
    const token = await asUser();
    for (const op of naming(someoneElse)) {
      const res = await gateway.execute(op.query, op.variables, { token });
      expect(res.status, op.name).toBe(200);
      expect(errorOf(res).extensions, op.name).toEqual({ code: 'FORBIDDEN' });
    }
    const seen = dataOf(
      await gateway.execute<any>(
        `query($o: ID!, $s: String) { userEvents(userId: $o) { edges { node { id } } } userMemories(userId: $s) { edges { node { id } } } memories(userId: $s) { edges { node { id } } } }`,
        { o: someoneElse, s: someoneElse },
        { token: tenantKey },
      ),
    );
    expect(seen).toEqual({ userEvents: { edges: [] }, userMemories: { edges: [] }, memories: { edges: [] } });
    // The refused deletes are still delete attempts: they are audited as forbidden.
    const audit = dataOf(await gateway.execute<any>(`query($u: String) { deletionAudit(userId: $u) { edges { node { operation outcome actor } } } }`, { u: someoneElse }, { token: tenantKey }));
    expect(audit.deletionAudit.edges.map((e: any) => e.node)).toEqual(
      expect.arrayContaining([
        { operation: 'deleteUserEvent', outcome: 'forbidden', actor: `user:${me}` },
        { operation: 'deleteMemory', outcome: 'forbidden', actor: `user:${me}` },
      ]),
    );
  });

  it("never shows or deletes another user's data through tenant-wide lists and id-only deletes", async () => {
    const theirs = dataOf(
      await gateway.execute<any>(`mutation($u: String) { addUserMemory(input: { content: "theirs", userId: $u }) { id } }`, { u: someoneElse }, { token: tenantKey }),
    ).addUserMemory.id;
    const theirMemory = dataOf(
      await gateway.execute<any>(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "theirs" }) { id } }`, { u: someoneElse }, { token: tenantKey }),
    ).createMemory.id;
    const token = await asUser();
    const lists = dataOf(await gateway.execute<any>(`{ userMemories { edges { node { id } } } memories { edges { node { id } } } }`, {}, { token }));
    expect(lists.userMemories.edges.map((e: any) => e.node.id)).not.toContain(theirs);
    expect(lists.memories.edges.map((e: any) => e.node.id)).not.toContain(theirMemory);
    expect(errorOf(await gateway.execute(`mutation($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`, { id: theirs }, { token })).extensions?.code).toBe('NOT_FOUND');
    expect(errorOf(await gateway.execute(`mutation($id: ID!) { deleteMemory(memoryId: $id) { message } }`, { id: theirMemory }, { token })).extensions?.code).toBe('NOT_FOUND');
    const still = dataOf(await gateway.execute<any>(`query($u: String) { userMemories(userId: $u) { edges { node { id } } } memories(userId: $u) { edges { node { id } } } }`, { u: someoneElse }, { token: tenantKey }));
    expect(still.userMemories.edges.map((e: any) => e.node.id)).toEqual([theirs]);
    expect(still.memories.edges.map((e: any) => e.node.id)).toEqual([theirMemory]);
  });

  it('answers FORBIDDEN to an end user reading the deletion audit', async () => {
    const res = await gateway.execute(`{ deletionAudit { edges { node { id } } } }`, {}, { token: await asUser() });
    expect(errorOf(res).extensions).toEqual({ code: 'FORBIDDEN' });
    expect(res.body.data ?? null).toBeNull();
  });

  it("keeps an end user of one tenant out of another tenant's data", async () => {
    dataOf(await gateway.execute(`mutation($u: String!) { createMemory(input: { userId: $u, memory: "acme only" }) { id } }`, { u: me }, { token: tenantKey }));
    const sameUserOtherTenant = await asUser(me, 'globex');
    const res = dataOf(await gateway.execute<any>(`{ memories { edges { node { memory } } } }`, {}, { token: sameUserOtherTenant }));
    expect(res.memories.edges).toEqual([]);
  });
});
