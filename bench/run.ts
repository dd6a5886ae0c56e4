import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createApp } from '../src/app.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { loadConfig } from '../src/config.js';
import { createPrisma } from '../src/db.js';
import { createLogger } from '../src/logger.js';
import { MieltoFake } from '../test/fakes/mielto.js';
import { freePort } from '../test/helpers/ports.js';
import { adminQuery, startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { bareYogaBaseline, DELETE_QUERY, LIST_QUERY, rawPostgresBaseline, rawSqliteBaseline, type Baseline, type MemoryRow } from './baselines.js';
import { all, interleaved, load, median, percentile, processStats, rate, ratios, startGatewayProcess, type GatewayProcess, type Sample, type Target } from './load.js';

/**
 * `npm run bench` (bench/README.md says how to read what it prints). Everything runs on
 * loopback: the gateway as `npm start` runs it, in processes of its own, on a fresh SQLite file
 * and on a throwaway PostgreSQL cluster; the baselines and autocannon in this process.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const PLAN = quick
  ? { rounds: 3, seconds: 2, memoryRequests: 20_000, bigTable: 100_000, pageRequests: 150 }
  : { rounds: 4, seconds: 4, memoryRequests: 100_000, bigTable: 1_000_000, pageRequests: 400 };
const CONNECTIONS = 20;
const PAGE = 20;
const MIELTO_LATENCY_MS = 5;

interface Row {
  section: string;
  measure: string;
  gateway: string;
  baseline: string;
  result: string;
  target?: string;
  holds?: boolean;
}
const rows: Row[] = [];
const notes: string[] = [];
const log = (line: string) => process.stderr.write(`${line}\n`);

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const ms = (n: number) => `${fmt(n, 2)} ms`;
const perSecond = (s: Sample) => `${fmt(rate(s))} req/s, p50 ${ms(median(s.latencies))}`;
const cpuPerRequest = (s: Sample) => (s.cpuMs === undefined ? '' : `, ${fmt(s.cpuMs / s.requests, 2)} ms CPU/req`);

function gatewayEnv(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    // The bench sends thousands of requests a second with one key; the limits have their own tests.
    RATE_LIMIT_READS_PER_MIN: '0',
    RATE_LIMIT_WRITES_PER_MIN: '0',
    ...extra,
  };
}

const gql = (query: string, variables?: Record<string, unknown>) => JSON.stringify({ query, variables });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** One more fresh id per request from `prefix-0` on: every delete removes a row that exists. */
function deleteBodies(prefix: string): () => string {
  let n = 0;
  return () => gql(DELETE_QUERY, { id: `${prefix}-${n++}` });
}

/** The local store under test: how to seed it and how to reach it without the gateway. */
interface Store {
  label: string;
  databaseUrl: string;
  /** Inserts `count` memories numbered `from`…, of `tenant`, ids `<prefix>-<n>`, user `user-<n % users>`. */
  seed(tenant: string, prefix: string, from: number, count: number, users: number): Promise<void>;
  raw(tenant: string): Promise<Baseline>;
  rowsOf(tenant: string, limit: number): Promise<MemoryRow[]>;
  close(): Promise<void>;
}

function sqliteStore(file: string): Store {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  // Timestamps exactly as Prisma's SQLite adapter writes them.
  const at = (seconds: string) => `strftime('%Y-%m-%dT%H:%M:%f', '2026-01-01', '+' || (${seconds}) || ' seconds') || '+00:00'`;
  return {
    label: 'SQLite',
    databaseUrl: `file:${file}`,
    async seed(tenant, prefix, from, count, users) {
      db.exec(
        `INSERT INTO "Memory" (id, "tenantId", "userId", memory, topics, metadata, "createdAt", "updatedAt")
         WITH RECURSIVE g(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM g WHERE n < ${from + count - 1})
         SELECT '${prefix}-' || n, '${tenant}', 'user-' || (n % ${users}), 'remembered ' || n, '["bench"]', '{"n":1}', ${at('n')}, ${at('n')} FROM g`,
      );
    },
    raw: (tenant) => rawSqliteBaseline(file, tenant),
    async rowsOf(tenant, limit) {
      type Raw = Omit<MemoryRow, 'createdAt' | 'updatedAt' | 'topics' | 'metadata'> & { createdAt: string; updatedAt: string; topics: string; metadata: string | null };
      const found = db.prepare('SELECT * FROM "Memory" WHERE "tenantId" = ? ORDER BY "createdAt" DESC, id DESC LIMIT ?').all(tenant, limit) as Raw[];
      return found.map((r) => ({ ...r, topics: JSON.parse(r.topics), metadata: r.metadata && JSON.parse(r.metadata), createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) }));
    },
    async close() {
      db.close();
    },
  };
}

async function postgresStore(databaseUrl: string): Promise<Store> {
  const client = new pg.Client({ connectionString: databaseUrl, options: '-c TimeZone=UTC' });
  await client.connect();
  return {
    label: 'PostgreSQL',
    databaseUrl,
    async seed(tenant, prefix, from, count, users) {
      const at = `timestamptz '2026-01-01' + n * interval '1 second'`;
      await client.query(
        `INSERT INTO "Memory" (id, "tenantId", "userId", memory, topics, metadata, "createdAt", "updatedAt")
         SELECT '${prefix}-' || n, '${tenant}', 'user-' || (n % ${users}), 'remembered ' || n, '["bench"]', '{"n":1}', ${at}, ${at}
         FROM generate_series(${from}, ${from + count - 1}) AS n`,
      );
      await client.query('ANALYZE "Memory"');
    },
    raw: (tenant) => rawPostgresBaseline(databaseUrl, tenant),
    async rowsOf(tenant, limit) {
      const { rows: found } = await client.query<MemoryRow>('SELECT * FROM "Memory" WHERE "tenantId" = $1 ORDER BY "createdAt" DESC, id DESC LIMIT $2', [tenant, limit]);
      return found;
    },
    close: () => client.end(),
  };
}

async function keyFor(databaseUrl: string, tenant: string): Promise<string> {
  const prisma = await createPrisma({ databaseUrl });
  try {
    return (await createApiKey(prisma, tenant)).key;
  } finally {
    await prisma.$disconnect();
  }
}

/** Fails the bench when the gateway and a baseline do not answer the same thing: a ratio of different work means nothing. */
async function sameAnswer(a: Target, b: Target) {
  const answer = async (t: Target) =>
    (await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body: typeof t.body === 'function' ? t.body() : t.body })).text();
  const [x, y] = await Promise.all([answer(a), answer(b)]);
  if (x !== y) throw new Error(`${a.name} and ${b.name} answer differently:\n${x.slice(0, 400)}\n${y.slice(0, 400)}`);
}

function compare(section: string, measure: string, c: Awaited<ReturnType<typeof interleaved>>, gw: string, base: string, target?: number) {
  const r = ratios(c, gw, base);
  const g = all(c.samples[gw]!);
  const b = all(c.samples[base]!);
  const failures = g.failures + b.failures;
  if (failures > 0) notes.push(`${section} ${measure}: ${g.failures} gateway and ${b.failures} baseline responses were not 2xx.`);
  rows.push({
    section,
    measure,
    gateway: perSecond(g) + cpuPerRequest(g),
    baseline: perSecond(b),
    result: `${fmt(r.median, 3)}× (rounds ${fmt(r.min, 3)}–${fmt(r.max, 3)})`,
    ...(target === undefined ? {} : { target: `≥ ${target}×`, holds: r.median >= target }),
  });
}

/** Rows 1, 2 and 5 on one store; row 6 and the federation row on SQLite only. */
async function localRows(store: Store, withYoga: boolean, extras: boolean, bundle: string) {
  const L = store.label;
  const listTenant = 'bench-list';
  const deleteTenant = 'bench-delete';
  const gatewayProcess = await startGatewayProcess(bundle, gatewayEnv(store.databaseUrl), await freePort());
  const raw = await store.raw(listTenant);
  const rawDeletes = await store.raw(deleteTenant);
  let yoga: Baseline | undefined;
  try {
    await store.seed(listTenant, 'list', 0, 50, 10);
    // The framework's ceiling answers from the very rows the gateway reads.
    if (withYoga) yoga = await bareYogaBaseline(await store.rowsOf(listTenant, PAGE + 1));
    const listKey = await keyFor(store.databaseUrl, listTenant);
    const deleteKey = await keyFor(store.databaseUrl, deleteTenant);
    const listBody = gql(LIST_QUERY(PAGE));
    const gwList: Target = { name: 'gateway', url: gatewayProcess.url, headers: bearer(listKey), body: listBody, pid: gatewayProcess.pid };
    const rawList: Target = { name: 'raw', url: `${raw.url}/list`, body: listBody };
    await sameAnswer(gwList, rawList);
    log(`${L}: warming up`);
    await load(gwList, { connections: CONNECTIONS, seconds: 2 });

    // 1. The local list against the raw driver and against the framework's ceiling.
    log(`${L}: 1. memories(first: ${PAGE})`);
    const listTargets = [gwList, rawList];
    if (yoga) {
      const yogaList: Target = { name: 'yoga', url: `${yoga.url}/list`, body: listBody };
      await sameAnswer(gwList, yogaList);
      listTargets.push(yogaList);
    }
    const list = await interleaved(listTargets, { rounds: PLAN.rounds, seconds: PLAN.seconds, connections: CONNECTIONS });
    compare(`1 ${L}`, `memories(first: ${PAGE}) vs raw node:http + ${store.label === 'SQLite' ? 'better-sqlite3' : 'pg'}`, list, 'gateway', 'raw', 0.15);
    if (yoga) compare(`1 ${L}`, `memories(first: ${PAGE}) vs bare Yoga from memory`, list, 'gateway', 'yoga', 0.6);

    // 2. Deletes: each request deletes a row that exists and writes its audit record.
    log(`${L}: 2. deleteMemory`);
    const pool = quick ? 60_000 : 200_000;
    await store.seed(deleteTenant, 'gw', 0, pool, 100);
    await store.seed(deleteTenant, 'raw', 0, pool, 100);
    const deletes = await interleaved(
      [
        { name: 'gateway', url: gatewayProcess.url, headers: bearer(deleteKey), body: deleteBodies('gw'), pid: gatewayProcess.pid },
        { name: 'raw', url: `${rawDeletes.url}/delete`, body: deleteBodies('raw') },
      ],
      { rounds: PLAN.rounds, seconds: PLAN.seconds, connections: CONNECTIONS },
    );
    compare(`2 ${L}`, 'deleteMemory vs raw delete + audit insert in one transaction', deletes, 'gateway', 'raw', 0.15);

    if (extras) {
      await federationRow(store, gatewayProcess);
      await memoryRow(gatewayProcess, gwList);
    }
    await pagesRow(store, gatewayProcess);
  } finally {
    await gatewayProcess.stop();
    await raw.close();
    await rawDeletes.close();
    await yoga?.close();
  }
}

/** 4. `_entities` for 100 users: statements per family (counted in-process through `onQuery`) and latency. */
async function federationRow(store: Store, gateway: GatewayProcess) {
  log(`${store.label}: 4. _entities for 100 users`);
  const tenant = 'bench-entities';
  const users = Array.from({ length: 100 }, () => randomUUID());
  await store.seed(tenant, 'entity', 0, 500, 100);
  const key = await keyFor(store.databaseUrl, tenant);
  const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id events(first: 5) { edges { node { id } } } userMemories(first: 5) { edges { node { id } } } memories(first: 5) { edges { node { id } } } } } }`;
  const body = gql(query, { r: users.map((id) => ({ __typename: 'User', id })) });

  const config = loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', DATABASE_URL: store.databaseUrl, RATE_LIMIT_READS_PER_MIN: '0', RATE_LIMIT_WRITES_PER_MIN: '0' });
  const statements: string[] = [];
  const app = await createApp(config, createLogger(config, new Writable({ write: (_c, _e, done) => done() })), { onQuery: (sql) => statements.push(sql) });
  try {
    // Once to settle what is cached per process, then the request that is counted.
    const send = () => app.server.fetch(new Request('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(key) }, body }));
    await (await send()).text();
    statements.length = 0;
    const answer = (await (await send()).json()) as { errors?: unknown };
    if (answer.errors) throw new Error(`_entities failed: ${JSON.stringify(answer.errors)}`);
  } finally {
    await app.close();
  }
  // Each statement once, under the tables it names (the key lookup joins ApiKey and Tenant);
  // anything else in the window (a background loop's poll) is listed as what it names too.
  const perStatement = new Map<string, number>();
  for (const sql of statements) {
    const named = [...new Set([...sql.matchAll(/(?:FROM|JOIN|INTO|UPDATE)\s+(?:[`"]?\w+[`"]?\.)?[`"]?(\w+)[`"]?/gi)].map((m) => m[1]!))];
    const label = named.length ? named.join('+') : 'other';
    perStatement.set(label, (perStatement.get(label) ?? 0) + 1);
  }
  const perTable = [...perStatement].map(([label, count]) => `${label} ${count}`).join(', ');
  const latency = await load({ name: 'entities', url: gateway.url, headers: bearer(key), body }, { connections: 1, seconds: PLAN.seconds });
  rows.push({
    section: `4 ${store.label}`,
    measure: '_entities, 100 users × 3 families (first: 5)',
    gateway: `p50 ${ms(median(latency.latencies))}, p99 ${ms(percentile(latency.latencies, 99))}`,
    baseline: '',
    result: `${statements.length} statements (${perTable})`,
  });
}

/** 6. Memory after warm-up and after 50k and 100k more list requests; CPU time per request. */
async function memoryRow(gateway: GatewayProcess, list: Target) {
  const half = PLAN.memoryRequests / 2;
  log(`gateway memory: ${PLAN.memoryRequests} list requests`);
  const warm = processStats(gateway.pid);
  const first = await load(list, { connections: CONNECTIONS, amount: half });
  const middle = processStats(gateway.pid);
  const second = await load(list, { connections: CONNECTIONS, amount: half });
  const end = processStats(gateway.pid);
  const requests = first.requests + second.requests;
  const growth = end.rssMb - middle.rssMb;
  rows.push({
    section: '6 SQLite',
    measure: `RSS after warm-up → after ${fmt(half)} → after ${fmt(PLAN.memoryRequests)} list requests`,
    gateway: `${fmt(warm.rssMb, 1)} → ${fmt(middle.rssMb, 1)} → ${fmt(end.rssMb, 1)} MB`,
    baseline: '',
    result: `growth in the second half ${fmt(growth, 1)} MB`,
    target: '≤ 150 MB, no growth',
    holds: end.rssMb <= 150 && growth <= 5,
  });
  rows.push({
    section: '6 SQLite',
    measure: 'CPU time of the gateway process per list request',
    gateway: `${fmt((end.cpuMs - warm.cpuMs) / requests, 3)} ms`,
    baseline: '',
    result: `${fmt(requests)} requests, ${fmt(first.failures + second.failures)} failed`,
  });
}

/** 5. One user's first and second page with 10k and then 1M rows in the table. */
async function pagesRow(store: Store, gateway: GatewayProcess) {
  const tenant = 'bench-pages';
  const key = await keyFor(store.databaseUrl, tenant);
  const query = `query($after: String) { memories(userId: "user-7", first: ${PAGE}, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`;
  await store.seed(tenant, 'page', 0, 200, 10);
  const measure = async () => {
    const firstPage = { name: 'first', url: gateway.url, headers: bearer(key), body: gql(query) };
    const answer = (await (await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(key) }, body: firstPage.body })).json()) as {
      data: { memories: { pageInfo: { endCursor: string } } };
    };
    const secondPage = { ...firstPage, name: 'second', body: gql(query, { after: answer.data.memories.pageInfo.endCursor }) };
    const a = await load(firstPage, { connections: 1, amount: PLAN.pageRequests });
    const b = await load(secondPage, { connections: 1, amount: PLAN.pageRequests });
    return [median(a.latencies), median(b.latencies)] as const;
  };
  // Other tenants' rows, spread through the same time range as the user's.
  const small = 10_000;
  log(`${store.label}: 5. pages with ${fmt(small)} rows`);
  await store.seed('other', 'small', 1_000, small, 10_000);
  const [smallFirst, smallSecond] = await measure();
  log(`${store.label}: 5. seeding ${fmt(PLAN.bigTable)} rows`);
  await store.seed('other', 'big', 1_000 + small, PLAN.bigTable - small, 10_000);
  const [bigFirst, bigSecond] = await measure();
  rows.push({
    section: `5 ${store.label}`,
    measure: `one user's page 1 / page 2, p50 at concurrency 1: ${fmt(small)} vs ${fmt(PLAN.bigTable)} other rows`,
    gateway: `${ms(smallFirst)} / ${ms(smallSecond)} → ${ms(bigFirst)} / ${ms(bigSecond)}`,
    baseline: '',
    result: `${fmt(bigFirst / smallFirst, 2)}× / ${fmt(bigSecond / smallSecond, 2)}×`,
  });
}

/** 3. Proxy mode: `memories` through the gateway to a fake Mielto answering in a fixed time, against calling the fake directly. */
async function proxyRows(bundle: string, dir: string) {
  log('3. proxy mode through Mielto');
  const apiKey = 'bench-mielto-key';
  const fake = await new MieltoFake({ apiKeys: [apiKey] }).listen();
  for (let i = 0; i < 30; i++) fake.seedMemory(apiKey, { user_id: `user-${i % 3}`, memory: `remembered ${i}`, topics: ['bench'] });
  fake.slow({ times: Number.MAX_SAFE_INTEGER, delayMs: MIELTO_LATENCY_MS });
  const databaseUrl = `file:${join(dir, 'proxy.db')}`;
  const gateway = await startGatewayProcess(bundle, gatewayEnv(databaseUrl, { MEMORIES_BACKEND: 'mielto', MIELTO_URL: fake.url, MIELTO_API_KEY: apiKey }), await freePort());
  try {
    const key = await keyFor(databaseUrl, 'bench-proxy');
    const through: Target = { name: 'gateway', url: gateway.url, headers: bearer(key), body: gql(LIST_QUERY(PAGE)), pid: gateway.pid };
    fake.requests.length = 0;
    const answer = await (await fetch(through.url, { method: 'POST', headers: { 'content-type': 'application/json', ...through.headers }, body: through.body as string })).text();
    if (!answer.includes('"edges"') || fake.requests.length !== 1) throw new Error(`proxy list failed or took ${fake.requests.length} upstream calls: ${answer.slice(0, 300)}`);
    // The very request the gateway sends, sent directly.
    const sent = fake.requests[0]!;
    const direct: Target = {
      name: 'direct',
      method: 'GET',
      url: `${fake.url}${sent.path}?${sent.query.toString()}`,
      headers: { authorization: sent.headers.authorization! },
    };
    const forget = setInterval(() => (fake.requests.length = 0), 1_000);
    try {
      await load(through, { connections: CONNECTIONS, seconds: 2 });
      const serial = await interleaved([through, direct], { rounds: PLAN.rounds, seconds: PLAN.seconds, connections: 1 });
      const g = all(serial.samples.gateway!);
      const d = all(serial.samples.direct!);
      const addedP50 = median(g.latencies) - median(d.latencies);
      const addedP99 = percentile(g.latencies, 99) - percentile(d.latencies, 99);
      rows.push({
        section: '3 Mielto',
        measure: `memories(first: ${PAGE}) at concurrency 1, Mielto answering in ${MIELTO_LATENCY_MS} ms: added p50`,
        gateway: `p50 ${ms(median(g.latencies))}${cpuPerRequest(g)}`,
        baseline: `p50 ${ms(median(d.latencies))}`,
        result: `+${ms(addedP50)}`,
        target: '≤ 1 ms',
        holds: addedP50 <= 1,
      });
      rows.push({
        section: '3 Mielto',
        measure: 'same, added p99',
        gateway: `p99 ${ms(percentile(g.latencies, 99))}`,
        baseline: `p99 ${ms(percentile(d.latencies, 99))}`,
        result: `+${ms(addedP99)}`,
        target: '≤ 3 ms',
        holds: addedP99 <= 3,
      });
      const parallel = await interleaved([through, direct], { rounds: PLAN.rounds, seconds: PLAN.seconds, connections: CONNECTIONS });
      compare('3 Mielto', `throughput at concurrency ${CONNECTIONS}`, parallel, 'gateway', 'direct');
    } finally {
      clearInterval(forget);
    }
  } finally {
    await gateway.stop();
    await fake.close();
  }
}

function table(): string {
  const lines = ['| # | measure | gateway | baseline | result | target |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const target = r.target ? `${r.target} ${r.holds ? '✅' : '❌'}` : '';
    lines.push(`| ${r.section} | ${r.measure} | ${r.gateway} | ${r.baseline} | ${r.result} | ${target} |`);
  }
  return lines.join('\n');
}

async function main() {
  const started = Date.now();
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, load average at start ${loadavg().map((n) => n.toFixed(2)).join(' / ')}`;
  // The bundle `npm start` runs, rebuilt first when the sources changed (as `npm start` does).
  const { ensureBuilt } = (await import(pathToFileURL(join(root, 'scripts', 'build-state.mjs')).href)) as { ensureBuilt(): void };
  ensureBuilt();
  const bundle = join(root, 'dist', 'main.bundle.js');
  const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-bench-'));
  let postgres: PostgresServer | undefined;
  try {
    // The gateway migrates the file at its start; the store is opened after that.
    const sqliteUrl = `file:${join(dir, 'gateway.db')}`;
    const probe = await startGatewayProcess(bundle, gatewayEnv(sqliteUrl), await freePort());
    await probe.stop();
    const sqlite = sqliteStore(join(dir, 'gateway.db'));
    try {
      await localRows(sqlite, true, true, bundle);
    } finally {
      await sqlite.close();
    }
    await proxyRows(bundle, dir);

    if (args.has('--no-postgres')) {
      notes.push('PostgreSQL rows skipped (--no-postgres).');
    } else if (!['17', '16', '15'].some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))) {
      notes.push('PostgreSQL rows skipped: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql).');
    } else {
      log('PostgreSQL: starting a throwaway cluster');
      postgres = await startPostgres();
      await adminQuery(postgres.url(), 'CREATE DATABASE bench');
      const store = await postgresStore(postgres.url('bench'));
      // The gateway creates the schema at its start.
      const probe = await startGatewayProcess(bundle, gatewayEnv(store.databaseUrl), await freePort());
      await probe.stop();
      try {
        await localRows(store, true, false, bundle);
      } finally {
        await store.close();
      }
    }
  } finally {
    await postgres?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }

  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const report = [
    `Machine: ${machine}.`,
    `Run: ${quick ? '`npm run bench -- --quick`' : '`npm run bench`'}, ${PLAN.rounds} interleaved rounds of ${PLAN.seconds} s per side, ${CONNECTIONS} connections unless said otherwise; ${minutes} min in all.`,
    '',
    table(),
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
  console.log(`\n${report}`);
  if (!args.has('--no-write')) {
    writeFileSync(join(root, 'bench', 'RESULTS.md'), `# Last \`npm run bench\`\n\nWritten by the bench itself (bench/README.md says how to read it).\n\n${report}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
