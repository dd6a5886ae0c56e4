import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTenant } from '../../src/tenants.js';
import { TEST_GATEWAY_SECRET } from '../contract/provider-harness.js';
import { startCortexFake, type CortexFake } from '../fakes/cortex.js';
import { startDatagridFake, type DatagridFake } from '../fakes/datagrid.js';
import { startMemobaseFake, type MemobaseFake } from '../fakes/memobase.js';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Runs every proxied operation, successful and failing, with recognisable upstream credentials
 * and a recognisable tenant API key, then searches every response (status line, headers, body)
 * and every log line (at debug level) for them.
 */

const CANARY = {
  memobase: 'sk-canary-memobase-7f3a9c',
  datagrid: 'sk-canary-datagrid-51be02',
  cortex: 'sk-canary-cortex-c0ffee',
  mielto: 'sk-canary-mielto-d15ea5e',
  rejected: 'sk-canary-rejected-0badf00d',
};

/** Memory content the operations write: it must never reach a log line either. */
const CONTENT = ['content-canary-event-3e1f', 'content-canary-usermemory-77aa', 'content-canary-memory-c4d2'];

describe('secrets never leave the gateway', () => {
  let gateway: TestGateway;
  let memobase: MemobaseFake;
  let datagrid: DatagridFake;
  let cortex: CortexFake;
  let mielto: MieltoFake;
  let token: string;
  let rejectedToken: string;
  const seen: string[] = [];
  const requestIds: string[] = [];

  beforeAll(async () => {
    memobase = await startMemobaseFake({ apiKeys: [CANARY.memobase] });
    datagrid = await startDatagridFake({ apiKeys: [CANARY.datagrid] });
    cortex = await startCortexFake({ apiKeys: [CANARY.cortex] });
    mielto = await startMieltoFake({ apiKeys: [CANARY.mielto] });
    gateway = await startGateway({
      GATEWAY_SECRET: TEST_GATEWAY_SECRET,
      LOG_LEVEL: 'trace',
      UPSTREAM_MAX_RETRIES: '1',
      UPSTREAM_BREAKER_THRESHOLD: '100',
      MIELTO_TIMEOUT_MS: '200',
    });
    const route = (apiKey: (p: keyof typeof CANARY) => string) => ({
      userEvents: 'memobase',
      userMemories: 'datagrid',
      memories: 'mielto',
      settings: {
        'memobase.url': memobase.url,
        'memobase.apiKey': apiKey('memobase'),
        'datagrid.url': datagrid.url,
        'datagrid.apiKey': apiKey('datagrid'),
        'cortex.url': cortex.url,
        'cortex.apiKey': apiKey('cortex'),
        'cortex.tenantId': 'cortex-tenant',
        'mielto.url': mielto.url,
        'mielto.apiKey': apiKey('mielto'),
      },
    });
    await setTenant(gateway.app.prisma, gateway.config, 'acme', route((p) => CANARY[p]));
    await setTenant(gateway.app.prisma, gateway.config, 'wrong-keys', route(() => CANARY.rejected));
    await setTenant(gateway.app.prisma, gateway.config, 'cortex-user', { ...route((p) => CANARY[p]), userMemories: 'cortex' });
    token = await gateway.createKey('acme');
    rejectedToken = await gateway.createKey('wrong-keys');
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([memobase?.close(), datagrid?.close(), cortex?.close(), mielto?.close()]);
  });

  async function run(query: string, variables: Record<string, unknown>, bearer: string) {
    const response = await gateway.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    requestIds.push(response.headers.get('x-request-id')!);
    seen.push(`${response.status} ${[...response.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`);
    return JSON.parse(text) as { data?: any; errors?: { extensions?: Record<string, unknown> }[] };
  }

  const user = randomUUID();
  const operations = [
    [`query($u: ID!) { userEvents(userId: $u) { edges { node { id } } } }`, { u: user }],
    [`mutation($u: ID!) { deleteUserEvent(userId: $u, eventId: "${randomUUID()}") { deleted } }`, { u: user }],
    [`mutation($u: ID!) { createUserEvent(userId: $u, input: { eventTip: "${CONTENT[0]}" }) { id } }`, { u: user }],
    [`{ userMemories { edges { node { id } } } }`, {}],
    [`mutation($c: String!) { addUserMemory(input: { content: $c, agentId: "a1" }) { id } }`, { c: CONTENT[1] }],
    [`mutation { deleteUserMemory(userMemoryId: "umem_missing") { deleted } }`, {}],
    [`{ memories(userId: "u1") { edges { node { id } } } }`, {}],
    [`mutation { createMemory(input: { userId: "u1", memory: "${CONTENT[2]}" }) { id memory } }`, {}],
    [`mutation { deleteMemory(memoryId: "mem_missing", userId: "u1") { message } }`, {}],
  ] as const;

  it('keeps credentials out of responses and logs, on success and on every kind of failure', async () => {
    // Success and NOT_FOUND paths with the right keys.
    for (const [query, vars] of operations) await run(query, vars, token);
    // Upstream 401s with keys the providers reject.
    const refused = await run(operations[0][0], operations[0][1], rejectedToken);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'memobase', upstreamStatus: 401 });
    for (const [query, vars] of operations) await run(query, vars, rejectedToken);
    // Faults: malformed JSON, 5xx, 429, dropped connections, timeouts.
    mielto.malformedJson();
    datagrid.serverError({ status: 500 });
    memobase.rateLimit({ retryAfterSeconds: 60 });
    cortex.dropConnection({ times: 5 });
    mielto.slow({ delayMs: 400, match: /memories\/mem_missing/, times: 5 });
    for (const [query, vars] of operations) await run(query, vars, token);
    const cortexToken = await gateway.createKey('cortex-user');
    await run(`{ userMemories { edges { node { id } } } }`, {}, cortexToken);
    // A bad gateway key, too.
    await run(operations[0][0], operations[0][1], 'mgw_000000000000_notARealKeyButRecognisable-canary-0123456789abcd');

    const codes = new Set(seen.flatMap((s) => [...s.matchAll(/"code":"([A-Z_]+)"/g)].map((m) => m[1])));
    for (const code of ['UPSTREAM_ERROR', 'UPSTREAM_TIMEOUT', 'UPSTREAM_UNAVAILABLE', 'NOT_FOUND', 'NOT_SUPPORTED', 'UNAUTHENTICATED']) {
      expect(codes, `expected some response with ${code}`).toContain(code);
    }

    const haystacks = { responses: seen.join('\n'), logs: gateway.logs.join('\n') };
    expect(gateway.logs.length).toBeGreaterThan(20); // the logs were really captured
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of [...Object.values(CANARY), token, rejectedToken, cortexToken, TEST_GATEWAY_SECRET]) {
        expect(text.includes(secret), `${where} contain ${secret.slice(0, 14)}…`).toBe(false);
      }
      // Nothing of a raw upstream body: the fakes' refusals and broken bodies are not echoed.
      for (const body of ['Unauthorized access', 'Invalid API key', 'Wrong secret key', 'Rate limit exceeded', 'Internal Server Error']) {
        expect(text.includes(body), `${where} contain upstream text "${body}"`).toBe(false);
      }
      expect(text).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack traces
    }
    // Memory content was written and listed (the responses carry it), but no log line holds it.
    expect(haystacks.responses).toContain(CONTENT[2]);
    for (const content of CONTENT) expect(haystacks.logs.includes(content), `logs contain ${content}`).toBe(false);

    // One request line per request, made of ids, names, codes and timings only.
    const lines = gateway.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(lines.map((l) => l.requestId).sort()).toEqual([...requestIds].sort());
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(
        ['codes', 'durationMs', 'level', 'msg', 'operation', 'operationType', 'requestId', 'rootFields', 'service', 'status', 'tenant', 'time', 'traceId', 'upstream', 'upstreamCalls'],
      );
      for (const call of line.upstream) {
        expect(Object.keys(call).every((k) => ['provider', 'method', 'route', 'attempt', 'outcome', 'status', 'ms'].includes(k)), JSON.stringify(call)).toBe(true);
        // Route templates: no id of a user, an event or a memory.
        expect(call.route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}|missing/);
      }
    }
    const proxied = lines.filter((l) => l.upstream.length > 0);
    expect(proxied.length).toBeGreaterThan(10);
    expect(new Set(proxied.flatMap((l) => l.upstream.map((c: { provider: string }) => c.provider)))).toEqual(new Set(['memobase', 'datagrid', 'cortex', 'mielto']));
    expect(lines.find((l) => l.codes.includes('UNAUTHENTICATED'))?.tenant).toBeNull();
    expect(lines.filter((l) => l.tenant === 'acme').length).toBeGreaterThan(0);
  });
});
