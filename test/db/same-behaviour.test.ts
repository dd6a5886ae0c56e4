import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/databases.js';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { adminQuery } from '../helpers/postgres.js';

const CREATE = /* GraphQL */ `
  mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id memory metadata createdAt } }
`;
const LIST = /* GraphQL */ `
  query($u: String, $after: String) { memories(userId: $u, first: 1, after: $after) { edges { node { id } } } }
`;

/** What PostgreSQL stores differently from SQLite, and how the gateway keeps the answers identical. */
describe.each(STORES)('the local store on %s', (store) => {
  let gateway: TestGateway;
  afterEach(async () => gateway?.close());

  it('returns metadata exactly as written: key order, nesting, unicode, an escaped U+0000 inside JSON', async () => {
    gateway = await startGateway({}, { store });
    const token = await gateway.createKey('acme');
    const metadata = { zeta: 1, alpha: { b: [1, 2.5, null], a: true }, 'ключ': '🙂', nul: 'a\u0000b', '': '' };
    const created = dataOf(await gateway.execute<any>(CREATE, { i: { userId: 'u1', memory: 'm', metadata } }, { token })).createMemory;
    expect(JSON.stringify(created.metadata)).toBe(JSON.stringify(metadata));
    const listed = dataOf(await gateway.execute<any>(`{ memories(userId: "u1") { edges { node { metadata } } } }`, {}, { token })).memories;
    expect(JSON.stringify(listed.edges[0].node.metadata)).toBe(JSON.stringify(metadata));
  });

  it('refuses text with U+0000, which PostgreSQL cannot store, with BAD_USER_INPUT naming the field', async () => {
    gateway = await startGateway({}, { store });
    const token = await gateway.createKey('acme');
    const cases: [string, Record<string, unknown>, string][] = [
      [CREATE, { i: { userId: 'u1', memory: 'a\u0000b' } }, 'input.memory'],
      [CREATE, { i: { userId: 'u\u0000', memory: 'm' } }, 'input.userId'],
      [LIST, { u: 'u\u0000' }, 'userId'],
      [LIST, { u: 'u1', after: Buffer.from(JSON.stringify({ k: 'local:memories', t: new Date().toISOString(), id: 'x\u0000' })).toString('base64url') }, 'after'],
    ];
    for (const [query, variables, field] of cases) {
      const error = errorOf(await gateway.execute(query, variables, { token }));
      expect(error.extensions, JSON.stringify(variables)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    // Nothing was written, and the gateway still serves.
    expect(dataOf(await gateway.execute<any>(`{ memories { edges { node { id } } } }`, {}, { token })).memories.edges).toEqual([]);
  });
});

describe('the local store on PostgreSQL', () => {
  let gateway: TestGateway;
  afterEach(async () => gateway?.close());

  it('keeps instants in UTC whatever the server time zone: the table holds the instant the API reports', async () => {
    gateway = await startGateway({}, { store: 'postgresql' });
    const database = new URL(gateway.config.databaseUrl).pathname.slice(1);
    // A server whose sessions default to another zone than UTC (new sessions pick it up).
    await adminQuery(gateway.config.databaseUrl.replace(/\/[^/]*$/, '/postgres'), `ALTER DATABASE "${database}" SET timezone TO 'Pacific/Kiritimati'`);
    await gateway.app.prisma.$disconnect();
    const token = await gateway.createKey('acme');
    const before = Date.now();
    const ids: string[] = [];
    for (const memory of ['first', 'second', 'third']) ids.push(dataOf(await gateway.execute<any>(CREATE, { i: { userId: 'u1', memory } }, { token })).createMemory.id);
    const page = dataOf(await gateway.execute<any>(`{ memories(userId: "u1", first: 2) { edges { node { id createdAt } } pageInfo { endCursor } } }`, {}, { token })).memories;
    // Kiritimati is UTC+14: a zone mix-up would move these by 14 hours.
    for (const { node } of page.edges) expect(Math.abs(Date.parse(node.createdAt) - before)).toBeLessThan(60 * 60 * 1000);
    // The instant in the table is the one the API reports, as any other client of the database
    // (psql, reports, backups) reads it.
    const client = new pg.Client({ connectionString: gateway.config.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ ms: string }>('SELECT (extract(epoch FROM "createdAt") * 1000)::bigint::text AS ms FROM "Memory" WHERE id = $1', [ids[2]]);
      expect(Number(rows[0]!.ms)).toBe(Date.parse(page.edges[0].node.createdAt));
    } finally {
      await client.end();
    }
    expect(page.edges.map((e: any) => e.node.id)).toEqual([ids[2], ids[1]]);
    const next = dataOf(await gateway.execute<any>(LIST.replace('first: 1', 'first: 5'), { u: 'u1', after: page.pageInfo.endCursor }, { token })).memories;
    expect(next.edges.map((e: any) => e.node.id)).toEqual([ids[0]]);
  });
});
