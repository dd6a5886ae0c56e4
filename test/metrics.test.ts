import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSubgraphSchema } from '../src/graphql/schema.js';
import { metricsHandler } from '../src/metrics.js';
import { setTenant } from '../src/tenants.js';
import { startDatagridFake, type DatagridFake } from './fakes/datagrid.js';
import { startMieltoFake, type MieltoFake } from './fakes/mielto.js';
import { dataOf, errorOf, startGateway, type TestGateway } from './helpers/gateway.js';
import { serveHandler, type ServedGateway } from './helpers/http-server.js';
import { keyParts } from './helpers/keys.js';

/**
 * The Prometheus metrics as an operator scrapes them: over HTTP from the metrics listener, after
 * a known mix of traffic. Each counter must move by exactly what was sent; no label may carry a
 * tenant, user, key or item id.
 */

// Recognisable ids, so that a label holding one is found by substring.
const TENANT = 'tenant-canary-5d1e';
const BREAKER_TENANT = 'tenant-canary-b7a2';
const USER = 'user_canary_93f0';
const MIELTO_KEY = 'mielto-key-canary-0c4a';
const DATAGRID_KEY = 'datagrid-key-canary-e81b';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of one series (0 when it does not exist yet). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.find((s) => s.name === name && Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

describe('Prometheus metrics', () => {
  let gateway: TestGateway;
  let mielto: MieltoFake;
  let datagrid: DatagridFake;
  let scrapeServer: ServedGateway;
  let token: string;
  let breakerToken: string;

  beforeAll(async () => {
    mielto = await startMieltoFake({ apiKeys: [MIELTO_KEY] });
    datagrid = await startDatagridFake({ apiKeys: [DATAGRID_KEY] });
    gateway = await startGateway({
      METRICS_PORT: '0',
      MEMORIES_BACKEND: 'mielto',
      MIELTO_URL: mielto.url,
      MIELTO_API_KEY: MIELTO_KEY,
      DATAGRID_URL: datagrid.url,
      DATAGRID_API_KEY: DATAGRID_KEY,
      UPSTREAM_MAX_RETRIES: '0',
      UPSTREAM_BREAKER_THRESHOLD: '2',
    });
    // One tenant on the environment's routing (memories → Mielto, the rest local); another whose
    // user memories go to Datagrid, to open a circuit without touching the first.
    await setTenant(gateway.app.prisma, gateway.config, TENANT, {});
    await setTenant(gateway.app.prisma, gateway.config, BREAKER_TENANT, { userMemories: 'datagrid' });
    token = await gateway.createKey(TENANT);
    breakerToken = await gateway.createKey(BREAKER_TENANT);
    scrapeServer = await serveHandler(metricsHandler(gateway.app.metrics!), '/metrics');
  });

  afterAll(async () => {
    await scrapeServer?.close();
    await gateway?.close();
    await Promise.all([mielto?.close(), datagrid?.close()]);
  });

  async function scrape(): Promise<{ text: string; samples: Sample[] }> {
    const response = await fetch(scrapeServer.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    return { text, samples: parseExposition(text) };
  }

  it('count requests by root field and code, upstream calls by outcome, circuits, rate limits and deletes, by exactly what was sent', async () => {
    const before = (await scrape()).samples;
    const delta = async () => {
      const after = (await scrape()).samples;
      return (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    };

    // Successes through Mielto: two creates, one list, one delete.
    const create = `mutation($m: String!) { createMemory(input: { userId: "${USER}", memory: $m }) { id } }`;
    const first = dataOf(await gateway.execute<{ createMemory: { id: string } }>(create, { m: 'likes tea' }, { token })).createMemory.id;
    dataOf(await gateway.execute(create, { m: 'likes coffee' }, { token }));
    dataOf(await gateway.execute(`{ memories(userId: "${USER}") { edges { node { id } } } }`, {}, { token }));
    dataOf(await gateway.execute(`mutation($id: ID!) { deleteMemory(memoryId: $id, userId: "${USER}") { memoryId } }`, { id: first }, { token }));
    // A local success and a local NOT_FOUND delete.
    dataOf(await gateway.execute(`mutation { addUserMemory(input: { content: "x", userId: "${USER}" }) { id } }`, {}, { token }));
    const missing = await gateway.execute(`mutation { deleteUserMemory(userMemoryId: "umem-missing-canary-77") { deleted } }`, {}, { token });
    expect(errorOf(missing).extensions?.code).toBe('NOT_FOUND');
    // Bad input: an out-of-range argument, a document that does not parse, a field that does not exist.
    expect(errorOf(await gateway.execute(`{ memories(first: 500) { edges { cursor } } }`, {}, { token })).extensions?.code).toBe('BAD_USER_INPUT');
    expect(errorOf(await gateway.execute(`{ memories(`, {}, { token })).extensions?.code).toBe('BAD_USER_INPUT');
    expect(errorOf(await gateway.execute(`{ field_${USER} }`, {}, { token })).extensions?.code).toBe('BAD_USER_INPUT');
    // Two root fields in one request, one of them failing: each is counted with its own code.
    const mixed = await gateway.execute(
      `{ userMemories(userId: "${USER}") { edges { cursor } } alias_${USER}: userEvents(userId: "${USER}") { edges { cursor } } }`,
      {},
      { token },
    );
    expect(mixed.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    // Without a key.
    expect((await gateway.execute(`{ memories { edges { cursor } } }`)).status).toBe(401);
    // An upstream 500 (not retried: it is not a retryable status).
    mielto.serverError({ status: 500 });
    expect(errorOf(await gateway.execute(`{ memories(userId: "${USER}") { edges { cursor } } }`, {}, { token })).extensions?.code).toBe('UPSTREAM_ERROR');
    // Two 503s open the Datagrid circuit of the other tenant (threshold 2); the third call is refused.
    datagrid.serverError({ status: 503, times: 2 });
    for (let i = 0; i < 2; i++) {
      expect(errorOf(await gateway.execute(`{ userMemories { edges { cursor } } }`, {}, { token: breakerToken })).extensions?.code).toBe('UPSTREAM_ERROR');
    }
    expect(errorOf(await gateway.execute(`{ userMemories { edges { cursor } } }`, {}, { token: breakerToken })).extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    // The gateway's rate limiter reports its refusals through the same object.
    gateway.app.metrics!.rateLimited('write');

    const moved = await delta();
    const requests = (operation: string, code: string) => moved('memory_gateway_requests_total', { operation, code });
    expect(requests('createMemory', 'OK')).toBe(2);
    expect(requests('memories', 'OK')).toBe(1);
    expect(requests('deleteMemory', 'OK')).toBe(1);
    expect(requests('addUserMemory', 'OK')).toBe(1);
    expect(requests('deleteUserMemory', 'NOT_FOUND')).toBe(1);
    expect(requests('memories', 'BAD_USER_INPUT')).toBe(1);
    expect(requests('(none)', 'BAD_USER_INPUT')).toBe(2); // the unparsable document and the unknown field
    expect(requests('userMemories', 'OK')).toBe(1);
    expect(requests('userEvents', 'BAD_USER_INPUT')).toBe(1);
    // Refused before its document is parsed: no root field is known.
    expect(requests('(none)', 'UNAUTHENTICATED')).toBe(1);
    expect(requests('memories', 'UPSTREAM_ERROR')).toBe(1);
    expect(requests('userMemories', 'UPSTREAM_ERROR')).toBe(2);
    expect(requests('userMemories', 'UPSTREAM_UNAVAILABLE')).toBe(1);
    expect(moved('memory_gateway_request_duration_seconds_count', { operation: 'createMemory' })).toBe(2);
    expect(moved('memory_gateway_request_duration_seconds_count', { operation: 'memories' })).toBe(3); // the unauthenticated one is (none)

    const upstream = (provider: string, outcome: string) => moved('memory_gateway_upstream_requests_total', { provider, outcome });
    expect(upstream('mielto', '2xx')).toBe(5); // two creates, a list, the delete's owner read and the delete
    expect(upstream('mielto', '5xx')).toBe(1);
    expect(upstream('datagrid', '5xx')).toBe(2);
    expect(upstream('datagrid', 'circuit_open')).toBe(1);
    expect(moved('memory_gateway_upstream_request_duration_seconds_count', { provider: 'mielto' })).toBe(6);
    // A refused call never went out, so it has no duration.
    expect(moved('memory_gateway_upstream_request_duration_seconds_count', { provider: 'datagrid' })).toBe(2);
    expect(moved('memory_gateway_circuit_open', { provider: 'datagrid' })).toBe(1);
    expect(moved('memory_gateway_circuit_open', { provider: 'mielto' })).toBe(0);

    expect(moved('memory_gateway_rate_limited_total', { class: 'write' })).toBe(1);
    expect(moved('memory_gateway_deletes_total', { family: 'memories', backend: 'mielto', outcome: 'deleted' })).toBe(1);
    expect(moved('memory_gateway_deletes_total', { family: 'user_memories', backend: 'local', outcome: 'not_found' })).toBe(1);
  });

  it('carry the process defaults and no label that holds a tenant, user, key or item id', async () => {
    const memory = dataOf(
      await gateway.execute<{ createMemory: { id: string } }>(`mutation { createMemory(input: { userId: "${USER}", memory: "m" }) { id } }`, {}, { token }),
    ).createMemory.id;
    await gateway.execute(`mutation($id: ID!) { deleteMemory(memoryId: $id, userId: "${USER}") { memoryId } }`, { id: memory }, { token });
    const { text, samples } = await scrape();

    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(samples.some((s) => s.name === name), name).toBe(true);
    }

    const families: Record<string, string[]> = {
      memory_gateway_requests_total: ['code', 'operation'],
      memory_gateway_request_duration_seconds: ['operation'],
      memory_gateway_upstream_requests_total: ['outcome', 'provider'],
      memory_gateway_upstream_request_duration_seconds: ['provider'],
      memory_gateway_circuit_open: ['provider'],
      memory_gateway_rate_limited_total: ['class'],
      memory_gateway_deletes_total: ['backend', 'family', 'outcome'],
    };
    const ours = samples.filter((s) => s.name.startsWith('memory_gateway_'));
    for (const sample of ours) {
      const family = Object.keys(families).find((f) => sample.name === f || sample.name.startsWith(`${f}_`));
      expect(family, sample.name).toBeDefined();
      expect(Object.keys(sample.labels).filter((l) => l !== 'le').sort(), sample.name).toEqual(families[family!]);
    }
    expect(new Set(ours.map((s) => s.name))).toEqual(
      new Set([
        'memory_gateway_requests_total',
        ...['bucket', 'sum', 'count'].map((p) => `memory_gateway_request_duration_seconds_${p}`),
        'memory_gateway_upstream_requests_total',
        ...['bucket', 'sum', 'count'].map((p) => `memory_gateway_upstream_request_duration_seconds_${p}`),
        'memory_gateway_circuit_open',
        'memory_gateway_rate_limited_total',
        'memory_gateway_deletes_total',
      ]),
    );

    // `operation` is a root field of the schema (or "(none)"), whatever the documents named.
    const schema = getSubgraphSchema();
    const rootFields = new Set(['(none)', ...[schema.getQueryType(), schema.getMutationType()].flatMap((t) => Object.keys(t?.getFields() ?? {}))]);
    for (const sample of ours.filter((s) => s.labels.operation !== undefined)) expect(rootFields, sample.labels.operation).toContain(sample.labels.operation);

    const ids = [TENANT, BREAKER_TENANT, USER, MIELTO_KEY, DATAGRID_KEY, memory, 'umem-missing-canary-77', 'canary'];
    for (const key of [token, breakerToken]) ids.push(key, ...Object.values(keyParts(key)));
    for (const id of ids) expect(text.includes(id), `the metrics contain ${id}`).toBe(false);
  });

  it('are not served on the public port', async () => {
    const response = await gateway.fetch('/metrics');
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('memory_gateway_');
  });
});
