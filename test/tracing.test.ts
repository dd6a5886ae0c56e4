import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from '../src/tracing.js';
import { startMieltoFake, type MieltoFake } from './fakes/mielto.js';
import { SPAN_KIND, STATUS_CODE, startOtlpCollector, type CollectedSpan, type OtlpCollector } from './fakes/otlp-collector.js';
import { dataOf, errorOf, startGateway, type TestGateway } from './helpers/gateway.js';
import { waitUntil } from './helpers/upstream.js';

/**
 * W3C trace context from the caller through the gateway to the provider, and OTLP export of the
 * gateway's spans to a collector on loopback.
 */

const MIELTO_KEY = 'mielto-key-tracing';
const USER = 'user-tracing-1';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const DELETE = `mutation Forget($id: ID!) { deleteMemory(memoryId: $id, userId: "${USER}") { memoryId } }`;
const LIST = `{ memories(userId: "${USER}") { edges { node { id } } } }`;

function requestLines(gateway: TestGateway): Record<string, any>[] {
  return gateway.logs.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request');
}

describe('traceparent', () => {
  it('reads valid headers and refuses what W3C Trace Context calls invalid', () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    expect(parseTraceparent(`00-${traceId}-${spanId}-01`)).toEqual({ traceId, spanId, sampled: true });
    expect(parseTraceparent(` 00-${traceId}-${spanId}-00 `, 'vendor=abc')).toEqual({ traceId, spanId, sampled: false, state: 'vendor=abc' });
    // A later version may append fields; flags other than "sampled" are kept out of the decision.
    expect(parseTraceparent(`01-${traceId}-${spanId}-03-whatever`)).toEqual({ traceId, spanId, sampled: true });
    for (const bad of [
      '',
      `00-${traceId}-${spanId}-01-extra`, // version 00 has exactly four fields
      `ff-${traceId}-${spanId}-01`, // version ff is forbidden
      `00-${'0'.repeat(32)}-${spanId}-01`,
      `00-${traceId}-${'0'.repeat(16)}-01`,
      `00-${traceId.toUpperCase()}-${spanId}-01`,
      `00-${traceId.slice(1)}-${spanId}-01`,
      'not a traceparent',
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    expect(formatTraceparent({ traceId, spanId, sampled: true })).toBe(`00-${traceId}-${spanId}-01`);
  });
});

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let gateway: TestGateway;
  let mielto: MieltoFake;
  let token: string;

  beforeAll(async () => {
    mielto = await startMieltoFake({ apiKeys: [MIELTO_KEY] });
    gateway = await startGateway({ MEMORIES_BACKEND: 'mielto', MIELTO_URL: mielto.url, MIELTO_API_KEY: MIELTO_KEY });
    token = await gateway.createKey('acme');
  });
  afterAll(async () => {
    await gateway?.close();
    await mielto?.close();
  });

  it("hands the caller's trace context on to every upstream call unchanged, and logs its trace id", async () => {
    const id = mielto.seedMemory(MIELTO_KEY, { user_id: USER, memory: 'likes tea' });
    const traceparent = `00-${hex(16)}-${hex(8)}-01`;
    mielto.requests.length = 0;
    const response = await gateway.execute(DELETE, { id }, { token, headers: { traceparent, tracestate: 'vendor=abc', 'x-request-id': 'client-corr-7' } });
    dataOf(response);
    // The owner read and the delete both carry it.
    expect(mielto.requests.map((r) => [r.method, r.headers.traceparent, r.headers.tracestate])).toEqual([
      ['GET', traceparent, 'vendor=abc'],
      ['DELETE', traceparent, 'vendor=abc'],
    ]);
    const line = requestLines(gateway).find((l) => l.requestId === response.headers.get('x-request-id'));
    expect(line?.traceId).toBe(traceparent.split('-')[1]);
    // The client's own request id, kept beside the gateway's, so the client can find its requests.
    expect(line?.clientRequestId).toBe('client-corr-7');
  });

  it('gives a request without one a trace id of its own, shared by all its upstream calls', async () => {
    mielto.requests.length = 0;
    const query = `{ a: memories(userId: "u-a") { edges { cursor } } b: memories(userId: "u-b") { edges { cursor } } }`;
    const first = await gateway.execute(query, {}, { token });
    const second = await gateway.execute(query, {}, { token });
    dataOf(first);
    dataOf(second);
    const parents = mielto.requests.map((r) => parseTraceparent(r.headers.traceparent));
    expect(parents).toHaveLength(4);
    expect(parents.every(Boolean)).toBe(true);
    const [a, b, c, d] = parents.map((p) => p!.traceId);
    expect(a).toBe(b);
    expect(c).toBe(d);
    expect(a).not.toBe(c);
    const lines = requestLines(gateway);
    expect(lines.find((l) => l.requestId === first.headers.get('x-request-id'))?.traceId).toBe(a);
    expect(lines.find((l) => l.requestId === second.headers.get('x-request-id'))?.traceId).toBe(c);
  });

  it('starts a new trace when the incoming traceparent is invalid', async () => {
    mielto.requests.length = 0;
    dataOf(await gateway.execute(LIST, {}, { token, headers: { traceparent: `00-${'0'.repeat(32)}-${hex(8)}-01` } }));
    const sent = parseTraceparent(mielto.requests[0]?.headers.traceparent);
    expect(sent?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(sent?.traceId).not.toBe('0'.repeat(32));
  });
});

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let gateway: TestGateway;
  let mielto: MieltoFake;
  let collector: OtlpCollector;
  let token: string;
  let closed = false;

  beforeAll(async () => {
    mielto = await startMieltoFake({ apiKeys: [MIELTO_KEY] });
    collector = await startOtlpCollector();
    gateway = await startGateway({
      MEMORIES_BACKEND: 'mielto',
      MIELTO_URL: mielto.url,
      MIELTO_API_KEY: MIELTO_KEY,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    });
    token = await gateway.createKey('acme');
  });
  afterAll(async () => {
    if (!closed) await gateway?.close();
    await Promise.all([mielto?.close(), collector?.close()]);
  });

  const spansOf = (traceId: string) => collector.spans.filter((s) => s.traceId === traceId);
  const serverSpan = (spans: CollectedSpan[]) => spans.find((s) => s.kind === SPAN_KIND.server)!;

  it("exports the request's span, continuing the caller's trace, and one span per upstream call, whose id the provider receives as parent", async () => {
    const id = mielto.seedMemory(MIELTO_KEY, { user_id: USER, memory: 'likes tea' });
    const traceId = hex(16);
    const callerSpan = hex(8);
    mielto.requests.length = 0;
    const response = await gateway.execute(DELETE, { id }, { token, headers: { traceparent: `00-${traceId}-${callerSpan}-01`, tracestate: 'vendor=abc' } });
    dataOf(response);

    // The request's span, and one per upstream call: the owner read and the delete.
    await waitUntil(() => spansOf(traceId).length >= 3, 15_000);
    const spans = spansOf(traceId);
    expect(spans).toHaveLength(3);
    const server = serverSpan(spans);
    const read = spans.find((s) => s.kind === SPAN_KIND.client && s.name.startsWith('GET'))!;
    const client = spans.find((s) => s.kind === SPAN_KIND.client && s.name.startsWith('DELETE'))!;
    expect(read).toMatchObject({ parentSpanId: server.spanId, name: 'GET /memories/{memoryId}' });

    expect(server).toMatchObject({
      parentSpanId: callerSpan,
      name: 'mutation Forget',
      status: { code: STATUS_CODE.unset },
      resource: { 'service.name': 'memory-gateway' },
      traceState: 'vendor=abc',
    });
    expect(server.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Forget',
      'memory_gateway.root_fields': ['deleteMemory'],
      'memory_gateway.error_codes': [],
      'memory_gateway.request_id': response.headers.get('x-request-id'),
      'memory_gateway.tenant': 'acme',
      'http.response.status_code': 200,
    });
    expect(client).toMatchObject({ parentSpanId: server.spanId, name: 'DELETE /memories/{memoryId}', status: { code: STATUS_CODE.unset } });
    expect(client.attributes).toMatchObject({
      'http.request.method': 'DELETE',
      'url.template': '/memories/{memoryId}',
      'memory_gateway.provider': 'mielto',
      'http.response.status_code': 200,
    });

    // The provider's traceparent names the client span as its parent: the trace runs caller → gateway → provider.
    expect(mielto.requests.map((r) => [r.headers.traceparent, r.headers.tracestate])).toEqual([
      [`00-${traceId}-${read.spanId}-01`, 'vendor=abc'],
      [`00-${traceId}-${client.spanId}-01`, 'vendor=abc'],
    ]);
    // Route templates, not paths: no item or user id in any span; no credential either.
    const exported = JSON.stringify(spans);
    for (const secret of [id, USER, MIELTO_KEY, token]) expect(exported).not.toContain(secret);
    expect(collector.contentTypes.every((t) => t === 'application/x-protobuf')).toBe(true);
  });

  it('marks a failed request and a failed upstream call as errors, with the codes', async () => {
    const traceId = hex(16);
    const response = await gateway.execute(DELETE, { id: 'mem-missing' }, { token, headers: { traceparent: `00-${traceId}-${hex(8)}-01` } });
    expect(errorOf(response).extensions?.code).toBe('NOT_FOUND');
    await waitUntil(() => spansOf(traceId).length >= 2, 15_000);
    const server = serverSpan(spansOf(traceId));
    expect(server.status).toEqual({ code: STATUS_CODE.error, message: 'NOT_FOUND' });
    expect(server.attributes['memory_gateway.error_codes']).toEqual(['NOT_FOUND']);
    const client = spansOf(traceId).find((s) => s.kind === SPAN_KIND.client)!;
    expect(client.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '4xx' });
    expect(client.status.code).toBe(STATUS_CODE.error);
  });

  it('starts a trace for a request without traceparent and flushes what is buffered when the gateway stops', async () => {
    mielto.requests.length = 0;
    dataOf(await gateway.execute(LIST, {}, { token }));
    const sent = parseTraceparent(mielto.requests[0]?.headers.traceparent);
    expect(sent?.sampled).toBe(true);
    // Stopping exports at once what the batch still holds.
    closed = true;
    await gateway.close();
    const spans = spansOf(sent!.traceId);
    expect(spans.map((s) => s.kind).sort()).toEqual([SPAN_KIND.server, SPAN_KIND.client]);
    expect(serverSpan(spans).parentSpanId).toBe('');
    expect(serverSpan(spans).name).toBe('query memories');
  });
});

describe('tracing with a collector that is down', () => {
  it('serves, stops cleanly and says in the log that spans were lost', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));

    const gateway = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    const token = await gateway.createKey('acme');
    dataOf(await gateway.execute(`{ memories { edges { cursor } } }`, {}, { token }));
    await expect(gateway.close()).resolves.toBeUndefined();
    const warnings = gateway.logs.map((l) => JSON.parse(l)).filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings.some((m) => /spans could not be exported/.test(m)), warnings.join('\n')).toBe(true);
  });
});

