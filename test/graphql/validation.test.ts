import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';

const MB = 'x'.repeat(1024 * 1024);
const U = randomUUID();

interface BadCase {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  field: string;
}

/**
 * Arguments every operation validates itself: each is answered BAD_USER_INPUT naming the
 * offending `field`, before any backend is touched, whichever backend serves the family.
 */
const badArguments: BadCase[] = [
  // UUID v4/v5 ids of the user-event operations.
  ...['not-a-uuid', '6ba7b810-9dad-11d1-80b4-00c04fd430c8' /* v1 */, '00000000-0000-0000-0000-000000000000', 'a8098c1a-f86e-31d1-a7e3-a3f1b4ddc9a0' /* v3 */, '3d813cbb-47fb-42ba-91df-831e1593ac2X', `${U}-tail`, '', ' ', MB].flatMap((bad) => [
    { name: `userEvents userId ${bad.slice(0, 40)}`, query: `query($u: ID!) { userEvents(userId: $u) { edges { cursor } } }`, variables: { u: bad }, field: 'userId' },
    { name: `createUserEvent userId ${bad.slice(0, 40)}`, query: `mutation($u: ID!) { createUserEvent(userId: $u, input: {}) { id } }`, variables: { u: bad }, field: 'userId' },
    { name: `deleteUserEvent userId ${bad.slice(0, 40)}`, query: `mutation($u: ID!) { deleteUserEvent(userId: $u, eventId: "${U}") { deleted } }`, variables: { u: bad }, field: 'userId' },
    { name: `deleteUserEvent eventId ${bad.slice(0, 40)}`, query: `mutation($e: ID!) { deleteUserEvent(userId: "${U}", eventId: $e) { deleted } }`, variables: { e: bad }, field: 'eventId' },
  ]),
  { name: 'userEvents userId given as a number', query: `query($u: ID!) { userEvents(userId: $u) { edges { cursor } } }`, variables: { u: 123 }, field: 'userId' },

  // 1 MB in every plain string argument.
  { name: 'userMemories userId 1MB', query: `query($v: String) { userMemories(userId: $v) { edges { cursor } } }`, variables: { v: MB }, field: 'userId' },
  { name: 'userMemories agentId 1MB', query: `query($v: String) { userMemories(agentId: $v) { edges { cursor } } }`, variables: { v: MB }, field: 'agentId' },
  { name: 'userMemories subTenantId 1MB', query: `query($v: String) { userMemories(subTenantId: $v) { edges { cursor } } }`, variables: { v: MB }, field: 'subTenantId' },
  { name: 'memories userId 1MB', query: `query($v: String) { memories(userId: $v) { edges { cursor } } }`, variables: { v: MB }, field: 'userId' },
  { name: 'memories workspaceId 1MB', query: `query($v: String) { memories(workspaceId: $v) { edges { cursor } } }`, variables: { v: MB }, field: 'workspaceId' },
  { name: 'deletionAudit userId 1MB', query: `query($v: String) { deletionAudit(userId: $v) { edges { cursor } } }`, variables: { v: MB }, field: 'userId' },
  { name: 'deleteUserMemory userMemoryId 1MB', query: `mutation($v: ID!) { deleteUserMemory(userMemoryId: $v) { deleted } }`, variables: { v: MB }, field: 'userMemoryId' },
  { name: 'deleteUserMemory subTenantId 1MB', query: `mutation($v: String) { deleteUserMemory(userMemoryId: "m", subTenantId: $v) { deleted } }`, variables: { v: MB }, field: 'subTenantId' },
  { name: 'deleteMemory memoryId 1MB', query: `mutation($v: ID!) { deleteMemory(memoryId: $v) { message } }`, variables: { v: MB }, field: 'memoryId' },
  { name: 'deleteMemory userId 1MB', query: `mutation($v: String) { deleteMemory(memoryId: "m", userId: $v) { message } }`, variables: { v: MB }, field: 'userId' },
  { name: 'deleteMemory workspaceId 1MB', query: `mutation($v: String) { deleteMemory(memoryId: "m", workspaceId: $v) { message } }`, variables: { v: MB }, field: 'workspaceId' },
  { name: 'createMemory workspaceId 1MB', query: `mutation($v: String) { createMemory(input: { userId: "u", memory: "m" }, workspaceId: $v) { id } }`, variables: { v: MB }, field: 'workspaceId' },
  { name: 'empty memoryId', query: `mutation { deleteMemory(memoryId: "") { message } }`, variables: {}, field: 'memoryId' },
  { name: 'blank userId filter', query: `{ memories(userId: "   ") { edges { cursor } } }`, variables: {}, field: 'userId' },

  // 1 MB in every text field of every input type.
  ...(
    [
      ['createUserEvent', `mutation($i: CreateUserEventInput!) { createUserEvent(userId: "${U}", input: $i) { id } }`, [
        [{ eventTip: MB }, 'input.eventTip'],
        [{ eventTags: [{ tag: MB, value: 'v' }] }, 'input.eventTags.0.tag'],
        [{ eventTags: [{ tag: 't', value: MB }] }, 'input.eventTags.0.value'],
        [{ profileDelta: [{ content: MB }] }, 'input.profileDelta.0.content'],
        [{ profileDelta: [{ content: 'c', topic: MB }] }, 'input.profileDelta.0.topic'],
        [{ profileDelta: [{ content: 'c', subTopic: MB }] }, 'input.profileDelta.0.subTopic'],
        [{ eventTags: Array.from({ length: 101 }, (_, n) => ({ tag: `t${n}`, value: 'v' })) }, 'input.eventTags'],
        [{ profileDelta: [{ content: '' }] }, 'input.profileDelta.0.content'],
      ]],
      ['addUserMemory', `mutation($i: AddUserMemoryInput!) { addUserMemory(input: $i) { id } }`, [
        [{ content: MB }, 'input.content'],
        [{ content: '' }, 'input.content'],
        [{ content: 'c', userId: MB }, 'input.userId'],
        [{ content: 'c', agentId: MB }, 'input.agentId'],
        [{ content: 'c', userPrompt: MB }, 'input.userPrompt'],
        [{ content: 'c', context: [MB] }, 'input.context.0'],
        [{ content: 'c', context: Array.from({ length: 101 }, () => 'line') }, 'input.context'],
        [{ content: 'c', subTenantId: MB }, 'input.subTenantId'],
      ]],
      ['createMemory', `mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id } }`, [
        [{ userId: MB, memory: 'm' }, 'input.userId'],
        [{ userId: 'u', memory: MB }, 'input.memory'],
        [{ userId: 'u', memory: '' }, 'input.memory'],
        [{ userId: 'u', memory: 'm', topics: [MB] }, 'input.topics.0'],
        [{ userId: 'u', memory: 'm', metadata: { note: MB } }, 'input.metadata'],
        [{ userId: 'u', memory: 'm', metadata: ['not', 'an', 'object'] }, 'input.metadata'],
        [{ userId: 'u', memory: 'm', metadata: 'a string' }, 'input.metadata'],
      ]],
    ] as [string, string, [Record<string, unknown>, string][]][]
  ).flatMap(([op, query, cases]) => cases.map(([input, field]) => ({ name: `${op} ${field}`, query, variables: { i: input }, field }))),
];

const cursorOf = (kind: string, t: unknown, id: unknown = 'x') => Buffer.from(JSON.stringify({ k: kind, t, id })).toString('base64url');

const LISTS = [
  { name: 'userEvents', kind: 'local:userEvents', query: `query($f: Int, $a: String) { userEvents(userId: "${U}", first: $f, after: $a) { edges { cursor } } }` },
  { name: 'userMemories', kind: 'local:userMemories', query: `query($f: Int, $a: String) { userMemories(first: $f, after: $a) { edges { cursor } } }` },
  { name: 'memories', kind: 'local:memories', query: `query($f: Int, $a: String) { memories(first: $f, after: $a) { edges { cursor } } }` },
  { name: 'deletionAudit', kind: 'deletionAudit', query: `query($f: Int, $a: String) { deletionAudit(first: $f, after: $a) { edges { cursor } } }` },
];

describe('argument validation through the HTTP layer', () => {
  let gateway: TestGateway;
  let token: string;

  beforeAll(async () => {
    gateway = await startGateway();
    token = await gateway.createKey('acme');
  });
  afterAll(async () => gateway?.close());

  it.each(badArguments.map((c) => [c.name, c] as const))('%s: BAD_USER_INPUT naming the field', async (_name, c) => {
    const res = await gateway.execute(c.query, c.variables, { token });
    expect(res.status).toBe(200);
    const error = errorOf(res);
    expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', field: c.field });
    expect(error.message).toContain(c.field.split('.')[0]);
    // A clear error never echoes the megabyte back.
    expect(JSON.stringify(res.body).length).toBeLessThan(2000);
  });

  it.each(LISTS)('$name: first 0, 101 and -1 are BAD_USER_INPUT on first; 1 and 100 are fine', async ({ query }) => {
    for (const first of [0, 101, -1, -2147483648, 2147483647]) {
      expect(errorOf(await gateway.execute(query, { f: first }, { token })).extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    }
    for (const first of [1, 100, null]) dataOf(await gateway.execute(query, { f: first }, { token }));
  });

  it.each(LISTS)('$name: cursors that are not this list’s are BAD_USER_INPUT on after', async ({ query, kind }) => {
    const bad = [
      '',
      'garbage',
      MB,
      Buffer.from('not json').toString('base64url'),
      Buffer.from('[]').toString('base64url'),
      cursorOf('someOtherList', '2026-01-01T00:00:00.000Z'),
      cursorOf(kind, 'yesterday'),
      cursorOf(kind, '+275760-09-13T00:00:00.000Z'),
      cursorOf(kind, '2026-13-45T00:00:00.000Z'),
      cursorOf(kind, 1767225600000),
      cursorOf(kind, '2026-01-01T00:00:00.000Z', 42),
    ];
    for (const after of bad) {
      const res = await gateway.execute(query, { f: 1, a: after }, { token });
      expect(errorOf(res).extensions, after.slice(0, 60)).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    }
    // Well-formed positions are fine even if nothing was ever there.
    for (const t of ['0001-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      expect(dataOf(await gateway.execute<any>(query, { f: 1, a: cursorOf(kind, t) }, { token }))).toBeDefined();
    }
  });

  const V5 = '2ed6657d-e927-568b-95e1-2665a8aea6a2';

  it('accepts upper-case UUIDs and v5 UUIDs for user events', async () => {
    for (const userId of [V5, U.toUpperCase()]) {
      const created = dataOf(await gateway.execute<any>(`mutation($u: ID!) { createUserEvent(userId: $u, input: {}) { userId } }`, { u: userId }, { token }));
      expect(created.createUserEvent.userId).toBe(userId.toLowerCase());
    }
  });

  it('writes nothing for rejected input', async () => {
    const lists = dataOf(
      await gateway.execute<any>(`{ userMemories { edges { cursor } } memories { edges { cursor } } }`, {}, { token }),
    );
    expect(lists).toEqual({ userMemories: { edges: [] }, memories: { edges: [] } });
    // User events are listed per user and only for valid ids, so the store itself is asked: the
    // only events are the two the test above created, none for a v1/v3/nil/malformed id.
    const events = await gateway.app.prisma.userEvent.findMany({ select: { userId: true, eventTip: true } });
    expect(events.map((e) => e.userId).sort()).toEqual([V5, U.toLowerCase()].sort());
    expect(events.every((e) => e.eventTip === null)).toBe(true);
  });
});
