import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/backends/cursor.js';
import { sqliteFile } from '../../src/db.js';
import { testDatabase, STORES, type TestStore } from '../helpers/databases.js';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import type { TestDatabase } from '../helpers/postgres.js';

/**
 * Lists stay flat as the tables grow: with a million rows of other users and tenants in each
 * table, the first and the second page of one user's list (and of a tenant's whole list) read
 * through the matching index and stop after the page: no scan of the table and no sort over it.
 * The plans are those of the statements the local stores actually send, with their parameters
 * (captured through the onQuery hook). PostgreSQL's plans are also run (EXPLAIN ANALYZE) to
 * count the rows each step reads; SQLite's EXPLAIN QUERY PLAN names the index and any sort.
 */

const OTHER_ROWS = 1_000_000;
const TENANT = 'tenant-0';
const USER = randomUUID();
const USER_ROWS = 25;
const PAGE = 10;

type Table = 'UserEvent' | 'UserMemory' | 'Memory';

interface Family {
  table: Table;
  field: string;
  /** A list as clients ask for it; `$u` is the user, or null for the tenant's whole list. */
  query: string;
}

const FAMILIES: Family[] = [
  {
    table: 'UserEvent',
    field: 'userEvents',
    query: `query($u: ID!, $first: Int, $after: String) { userEvents(userId: $u, first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
  },
  {
    table: 'UserMemory',
    field: 'userMemories',
    query: `query($u: String, $first: Int, $after: String) { userMemories(userId: $u, first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
  },
  {
    table: 'Memory',
    field: 'memories',
    query: `query($u: String, $first: Int, $after: String) { memories(userId: $u, first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
  },
];

interface Case {
  label: string;
  family: Family;
  /** Whose list: the user's, or (null) the whole tenant's. */
  user: string | null;
  index: string;
  /** The columns the index must be searched by. */
  searchedBy: string[];
  /** The most rows any step may read: the user's own rows, or two pages. */
  maxRowsRead: number;
}

/** Column values of one seeded row, as SQL expressions of the row number `n` and its time. */
function seedColumns(table: Table, n: string, at: string, padded: string): Record<string, string> {
  // Ten tenants of ten thousand users each; the user under test is none of them, but its own
  // tenant holds a tenth of the rows. Ids (zero-padded n) grow, so the primary key fills in order.
  const common = { id: `'seed-' || ${padded}`, tenantId: `'tenant-' || (${n} % 10)`, userId: `'user-' || (${n} % 10000)`, createdAt: at, updatedAt: at };
  if (table === 'UserEvent') return { ...common, eventTip: `'tip'`, eventTags: `'[]'`, profileDelta: `'[]'` };
  if (table === 'UserMemory') return { ...common, content: `'remembered'`, context: `'[]'` };
  return { ...common, memory: `'remembered'`, topics: `'[]'` };
}

/** The user's own rows, spread among the others in time, in its tenant and (same user id) in another. */
function userRows(table: Table, at: (n: number) => string): string[] {
  const statements: string[] = [];
  for (let i = 0; i < USER_ROWS; i++) {
    const n = Math.round(((i + 0.5) * OTHER_ROWS) / USER_ROWS);
    for (const tenant of [TENANT, 'tenant-1']) {
      const columns = { ...seedColumns(table, String(n), at(n), `'user'`), id: `'${randomUUID()}'`, tenantId: `'${tenant}'`, userId: `'${USER}'` };
      statements.push(insert(table, columns, ''));
    }
  }
  return statements;
}

const insert = (table: Table, columns: Record<string, string>, from: string) =>
  `INSERT INTO "${table}" (${Object.keys(columns).map((c) => `"${c}"`).join(', ')}) SELECT ${Object.values(columns).join(', ')} ${from}`;

interface Explainer {
  /** The plan of `sql` run with `params`. */
  plan(sql: string, params: unknown[]): Promise<Plan>;
  close(): void | Promise<void>;
}

interface Plan {
  text: string;
  /**
   * Whether the table is read through `index`, searched by equality on `columns` and, when
   * `range` is given, bounded by that column too (a page after a cursor starts at the cursor).
   */
  searches(table: Table, index: string, columns: string[], range?: string): boolean;
  /** Whether any step reads the table without an index. */
  scansTable(table: Table): boolean;
  /** Whether a step sorts more than `rows` rows (SQLite: whether any step sorts). */
  sortsMoreThan(rows: number): boolean;
  /** The most rows one step read (PostgreSQL only; undefined on SQLite). */
  maxRowsRead?: number;
}

/**
 * A bulk load builds each secondary index once at the end, as a restore does; the indexes are
 * the migrations' own (their DDL is read back from the catalog and re-run unchanged).
 */
async function seedPostgres(url: string): Promise<Explainer> {
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  await client.query(`SET maintenance_work_mem = '256MB'`);
  for (const { table } of FAMILIES) {
    const { rows: indexes } = await client.query<{ name: string; ddl: string }>(
      `SELECT indexname AS name, indexdef AS ddl FROM pg_indexes WHERE tablename = $1 AND indexname <> $2`,
      [table, `${table}_pkey`],
    );
    for (const index of indexes) await client.query(`DROP INDEX "${index.name}"`);
    const at = (n: string) => `timestamptz '2026-01-01' + ${n} * interval '1 second'`;
    await client.query(insert(table, seedColumns(table, 'n', at('n'), `lpad(n::text, 7, '0')`), `FROM generate_series(1, ${OTHER_ROWS}) AS n`));
    for (const statement of userRows(table, (n) => `${at(String(n))} + interval '1 millisecond'`)) await client.query(statement);
    for (const index of indexes) await client.query(index.ddl);
    // What autovacuum does on a live table: the planner's statistics.
    await client.query(`ANALYZE "${table}"`);
  }
  return {
    async plan(sql, params) {
      const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
      type Node = {
        'Node Type': string;
        'Relation Name'?: string;
        'Index Name'?: string;
        'Index Cond'?: string;
        'Actual Rows': number;
        'Actual Loops': number;
        'Rows Removed by Filter'?: number;
        'Rows Removed by Index Recheck'?: number;
        Plans?: Node[];
      };
      const nodes: Node[] = [];
      const walk = (node: Node) => {
        nodes.push(node);
        node.Plans?.forEach(walk);
      };
      walk((rows[0]['QUERY PLAN'] as { Plan: Node }[])[0]!.Plan);
      const read = (n: Node) => (n['Actual Rows'] + (n['Rows Removed by Filter'] ?? 0) + (n['Rows Removed by Index Recheck'] ?? 0)) * n['Actual Loops'];
      const input = (n: Node) => (n.Plans ?? []).reduce((sum, child) => sum + child['Actual Rows'] * child['Actual Loops'], 0);
      return {
        text: nodes
          .map((n) => `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}${n['Index Cond'] ? ` [${n['Index Cond']}]` : ''} read=${read(n)}`)
          .join('\n'),
        searches: (table, index, columns, range) =>
          nodes.some(
            (n) =>
              /Index( Only)? Scan/.test(n['Node Type']) &&
              n['Index Name'] === index &&
              columns.every((c) => n['Index Cond']?.includes(`"${c}" =`)) &&
              (!range || new RegExp(`"${range}" <`).test(n['Index Cond'] ?? '')),
          ) && nodes.some((n) => n['Relation Name'] === table),
        scansTable: (table) => nodes.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === table),
        sortsMoreThan: (limit) => nodes.some((n) => /Sort/.test(n['Node Type']) && input(n) > limit),
        maxRowsRead: Math.max(...nodes.filter((n) => /Scan/.test(n['Node Type'])).map(read)),
      };
    },
    close: () => client.end(),
  };
}

async function seedSqlite(url: string): Promise<Explainer> {
  const db = new Database(sqliteFile(url));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  // The timestamps exactly as Prisma's SQLite adapter writes them.
  const at = (seconds: string) => `strftime('%Y-%m-%dT%H:%M:%f', '2026-01-01', '+' || (${seconds}) || ' seconds') || '+00:00'`;
  db.exec(`CREATE TEMP TABLE seed AS WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${OTHER_ROWS}) SELECT n, ${at('n')} AS at FROM g`);
  for (const { table } of FAMILIES) {
    const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`).all(table) as { name: string; sql: string }[];
    for (const index of indexes) db.exec(`DROP INDEX "${index.name}"`);
    db.exec(insert(table, seedColumns(table, 'n', 'at', `printf('%07d', n)`), 'FROM seed'));
    for (const statement of userRows(table, (n) => at(`${n} + 0.001`))) db.exec(statement);
    for (const index of indexes) db.exec(index.sql);
  }
  db.exec('DROP TABLE seed');
  // Statistics, as `PRAGMA optimize` or an ANALYZE leaves them on a long-lived database.
  db.exec('ANALYZE');
  return {
    async plan(sql, params) {
      const details = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((step) => step.detail);
      return {
        text: details.join('\n'),
        searches: (table, index, columns, range) => {
          const search = [...columns.map((c) => `${c}=\\?`), ...(range ? [`${range}<\\?`] : [])].join(' AND ');
          return details.some((d) => new RegExp(`^SEARCH (main\\.)?${table} USING (COVERING )?INDEX ${index} \\(${search}\\)`).test(d));
        },
        scansTable: (table) => details.some((d) => new RegExp(`^SCAN (main\\.)?${table}\\b`).test(d)),
        // SQLite's plans carry no row counts: any sort step (a temporary b-tree) is refused.
        sortsMoreThan: () => details.some((d) => /TEMP B-TREE/.test(d)),
      };
    },
    close: () => {
      db.close();
    },
  };
}

describe.each(STORES)('lists with a million rows of other users and tenants, on %s', (store: TestStore) => {
  let database: TestDatabase;
  let explainer: Explainer;
  let gateway: TestGateway;
  let token: string;
  const statements: { sql: string; params: string }[] = [];

  beforeAll(async () => {
    database = await testDatabase(store);
    explainer = store === 'postgresql' ? await seedPostgres(database.url) : await seedSqlite(database.url);
    gateway = await startGateway({ DATABASE_URL: database.url }, { onQuery: (sql, params) => statements.push({ sql, params }) });
    token = await gateway.createKey(TENANT);
  }, 600_000);
  afterAll(async () => {
    await gateway?.close();
    await explainer?.close();
    await database?.drop();
  });

  /** The statements a list request sent to the family's table, with their parameters. */
  async function listStatements(family: Family, user: string | null, after: string | null) {
    statements.length = 0;
    const response = await gateway.execute<any>(family.query, { u: user, first: PAGE, after }, { token });
    const page = dataOf(response)[family.field];
    // Prisma's own statements name the schema; the raw ones (src/backends/local/newest-per-user.ts) do not.
    const sent = statements.filter((s) => new RegExp(`FROM ([\`"](main|public)[\`"]\\.)?[\`"]${family.table}[\`"]`).test(s.sql));
    return { page, sent };
  }

  const cases: Case[] = [
    ...FAMILIES.map((family) => ({
      label: `one user's ${family.field}`,
      family,
      user: USER,
      index: `${family.table}_tenantId_userId_createdAt_id_idx`,
      searchedBy: ['tenantId', 'userId'],
      maxRowsRead: USER_ROWS,
    })),
    // Without a user, a tenant's whole list (user events always name their user).
    ...FAMILIES.filter((family) => family.table !== 'UserEvent').map((family) => ({
      label: `a tenant's ${family.field}`,
      family,
      user: null,
      index: `${family.table}_tenantId_createdAt_id_idx`,
      searchedBy: ['tenantId'],
      maxRowsRead: 2 * (PAGE + 1),
    })),
  ];

  async function expectFlat(c: Case, sent: { sql: string; params: string }[], afterCursor: boolean) {
    expect(sent).toHaveLength(1);
    const [{ sql, params }] = sent as [{ sql: string; params: string }];
    const plan = await explainer.plan(sql, JSON.parse(params) as unknown[]);
    const why = `${sql}\n${params}\n${plan.text}`;
    expect(plan.searches(c.family.table, c.index, c.searchedBy, afterCursor ? 'createdAt' : undefined), why).toBe(true);
    expect(plan.scansTable(c.family.table), why).toBe(false);
    expect(plan.sortsMoreThan(c.maxRowsRead), why).toBe(false);
    if (plan.maxRowsRead !== undefined) expect(plan.maxRowsRead, why).toBeLessThanOrEqual(c.maxRowsRead);
  }

  it.each(cases)('$label: the first and the second page read the index, with no scan of the table and no sort over it', async (c) => {
    const first = await listStatements(c.family, c.user, null);
    expect(first.page.edges).toHaveLength(PAGE);
    expect(first.page.pageInfo.hasNextPage).toBe(true);
    const second = await listStatements(c.family, c.user, first.page.pageInfo.endCursor);
    expect(second.page.edges).toHaveLength(PAGE);
    expect(new Set([...first.page.edges, ...second.page.edges].map((e: any) => e.node.id)).size).toBe(2 * PAGE);
    await expectFlat(c, first.sent, false);
    await expectFlat(c, second.sent, true);
  });

  it.each(cases.filter((c) => c.user === null))('$label: a page half-way down the list starts at its cursor, not at the top', async (c) => {
    // The cursor a client holds after paging through half of the tenant's 100,000 items.
    const n = OTHER_ROWS / 2;
    const kind = `local:${c.family.field}`;
    const after = encodeCursor(kind, { t: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), id: `seed-${String(n).padStart(7, '0')}` });
    const deep = await listStatements(c.family, null, after);
    expect(deep.page.edges).toHaveLength(PAGE);
    await expectFlat(c, deep.sent, true);
  });
});
