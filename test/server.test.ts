import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryStore } from '../src/backends/types.js';
import { dataOf, errorOf, startGateway, type TestGateway } from './helpers/gateway.js';
import { keyParts } from './helpers/keys.js';

const GOOD = `{ memories(first: 1) { edges { node { id } } } }`;

/** Parses a raw response that must be a GraphQL error response with exactly one error. */
async function errorBody(res: Response) {
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status}: body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  expect(body.errors, text).toHaveLength(1);
  // Nothing internal leaks: no stack, no parser detail, no Node/engine internals.
  expect(text).not.toMatch(/stack|originalError|node_modules|at .*:\d+:\d+/);
  return body.errors[0] as { message: string; extensions: Record<string, unknown> };
}

describe('HTTP layer: bodies and requests that are not a valid GraphQL request', () => {
  let gateway: TestGateway;
  let token: string;

  beforeAll(async () => {
    gateway = await startGateway({ MAX_BODY_BYTES: String(64 * 1024) });
    token = await gateway.createKey('acme');
  });
  afterAll(async () => gateway?.close());

  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    gateway.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}`, ...headers },
      body,
      // Streams need half-duplex in the fetch API; harmless for strings.
      duplex: 'half',
    } as RequestInit);

  /** After every bad request the server must still answer a good one. */
  async function expectStillServing() {
    expect(dataOf(await gateway.execute(GOOD, {}, { token }))).toEqual({ memories: { edges: [] } });
  }

  const badBodies: [string, string, number][] = [
    ['malformed JSON', '{"query": "{ memories { edges { cursor } } }"', 400],
    ['JSON null', 'null', 400],
    ['a JSON string', '"{ memories { edges { cursor } } }"', 400],
    ['a JSON number', '42', 400],
    ['a batch (array) of 11 operations', JSON.stringify(Array.from({ length: 11 }, () => ({ query: GOOD }))), 413],
    ['a non-string query', '{"query": 123}', 400],
    ['variables that are not an object', JSON.stringify({ query: GOOD, variables: 'x' }), 400],
    ['an empty object', '{}', 400],
    ['a syntax error', JSON.stringify({ query: '{ memories(first: ' }), 400],
    ['an unknown field', JSON.stringify({ query: '{ nope }' }), 400],
    ['an unknown operationName', JSON.stringify({ query: 'query A { memories { edges { cursor } } }', operationName: 'B' }), 400],
    ['two operations without operationName', JSON.stringify({ query: 'query A { memories { edges { cursor } } } query B { memories { edges { cursor } } }' }), 400],
    ['a variable of the wrong type', JSON.stringify({ query: 'query($f: Int) { memories(first: $f) { edges { cursor } } }', variables: { f: 'ten' } }), 400],
    ['an Int out of 32-bit range', JSON.stringify({ query: 'query($f: Int) { memories(first: $f) { edges { cursor } } }', variables: { f: 2 ** 40 } }), 400],
    ['a missing required variable', JSON.stringify({ query: 'query($u: ID!) { userEvents(userId: $u) { edges { cursor } } }' }), 400],
    ['an input object given as a string', JSON.stringify({ query: 'mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id } }', variables: { i: 'memory' } }), 400],
    ['an input object missing a required field', JSON.stringify({ query: 'mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id } }', variables: { i: { memory: 'x' } } }), 400],
    ['a literal of the wrong type', JSON.stringify({ query: '{ memories(first: "ten") { edges { cursor } } }' }), 400],
  ];

  it.each(badBodies)('%s: BAD_USER_INPUT with a clear message, then keeps serving', async (_name, body, status) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    const error = await errorBody(res);
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message.length).toBeGreaterThan(5);
    await expectStillServing();
  });

  it('GET without a query: BAD_USER_INPUT', async () => {
    const res = await gateway.fetch('/graphql', { headers: { accept: 'application/graphql-response+json', authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
    expect((await errorBody(res)).extensions.code).toBe('BAD_USER_INPUT');
    await expectStillServing();
  });

  it('GET with a query works; a mutation over GET is refused with 405', async () => {
    const ok = await gateway.fetch(`/graphql?query=${encodeURIComponent(GOOD)}`, { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { memories: { edges: [] } } });
    const mutation = `mutation { deleteMemory(memoryId: "x") { message } }`;
    const res = await gateway.fetch(`/graphql?query=${encodeURIComponent(mutation)}`, { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
    expect(res.status).toBe(405);
    expect((await errorBody(res)).extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a method other than GET/POST: 405 with BAD_USER_INPUT', async () => {
    const res = await gateway.fetch('/graphql', { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: GOOD }) });
    expect(res.status).toBe(405);
    expect((await errorBody(res)).extensions.code).toBe('BAD_USER_INPUT');
    await expectStillServing();
  });

  it('a body of an unsupported media type: 415 with a JSON error naming the expected type', async () => {
    const res = await post(JSON.stringify({ query: GOOD }), { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    const error = await errorBody(res);
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).toContain('application/json');
    await expectStillServing();
  });

  it('an oversized body with Content-Length: 413 before it is read', async () => {
    const body = JSON.stringify({ query: GOOD, variables: { pad: 'x'.repeat(100 * 1024) } });
    const res = await post(body, { 'content-length': String(Buffer.byteLength(body)) });
    expect(res.status).toBe(413);
    const error = await errorBody(res);
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/limit/i);
    await expectStillServing();
  });

  it('an oversized body streamed without Content-Length (chunked): 413 too', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"query":"${GOOD.replaceAll('"', '\\"')}","variables":{"pad":"`));
      },
      pull(controller) {
        // Far more than the limit: a server that buffers it all would still answer, just late.
        if (sent++ < 64) controller.enqueue(chunk);
        else {
          controller.enqueue(new TextEncoder().encode('"}}'));
          controller.close();
        }
      },
    });
    const res = await post(stream);
    expect(res.status).toBe(413);
    expect((await errorBody(res)).extensions.code).toBe('BAD_USER_INPUT');
    await expectStillServing();
  });

  it('a body just under the limit is read and validated normally', async () => {
    const body = JSON.stringify({ query: 'query($u: String) { memories(userId: $u) { edges { cursor } } }', variables: { u: 'x'.repeat(60 * 1024) } });
    const res = await post(body, { 'content-length': String(Buffer.byteLength(body)) });
    expect(res.status).toBe(200);
    expect((await errorBody(res)).extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'userId' });
  });

  it("tags every response with the gateway's own request id, whatever the client sends", async () => {
    const generated = await gateway.fetch(`/graphql?query=${encodeURIComponent(GOOD)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const given = await gateway.fetch(`/graphql?query=${encodeURIComponent(GOOD)}`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(given.headers.get('x-request-id')).not.toBe(generated.headers.get('x-request-id'));
    const junk = await gateway.fetch(`/graphql?query=${encodeURIComponent(GOOD)}`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'bad id\twith spaces' } });
    expect(junk.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves GraphiQL to a browser without a key', async () => {
    const res = await gateway.fetch('/graphql', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('memory-gateway');
  });
});

describe('HTTP layer: unexpected failures are masked', () => {
  const SECRET_DETAIL = 'connection to 10.0.0.7 refused for user admin:hunter2';
  let gateway: TestGateway;
  let token: string;

  // A store whose backend fails in a way nobody anticipated: a plain Error, not an AppError.
  const brokenStore = (): MemoryStore => ({
    backend: 'mielto',
    async list() {
      throw new Error(SECRET_DETAIL);
    },
    async create() {
      throw new TypeError(SECRET_DETAIL);
    },
    async delete() {
      throw new Error(SECRET_DETAIL);
    },
  });

  beforeAll(async () => {
    gateway = await startGateway({ MEMORIES_BACKEND: 'mielto' }, { providers: { memories: { mielto: brokenStore } } });
    token = await gateway.createKey('acme');
  });
  afterAll(async () => gateway?.close());

  const operations = [
    ['memories', `{ memories { edges { node { id } } } }`, {}],
    ['createMemory', `mutation { createMemory(input: { userId: "u1", memory: "m" }) { id } }`, {}],
    ['deleteMemory', `mutation { deleteMemory(memoryId: "m-1", userId: "u1") { message } }`, {}],
  ] as const;

  it.each(operations)('%s: INTERNAL_SERVER_ERROR with a generic message, no detail and no stack', async (_name, query, variables) => {
    const res = await gateway.execute(query, variables, { token });
    const error = errorOf(res);
    expect(error.message).toBe('Unexpected error.');
    expect(error.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(res.body.data ?? null).toBeNull();
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('hunter2');
    expect(text).not.toMatch(/stack|TypeError|originalError|\.ts:\d+/);
  });

  it('logs the failure for operators without a stack trace or the API key', async () => {
    gateway.logs.length = 0;
    await gateway.execute(`{ memories { edges { node { id } } } }`, {}, { token });
    const lines = gateway.logs.map((l) => JSON.parse(l));
    const failure = lines.find((l) => l.level >= 50);
    expect(failure, gateway.logs.join('\n')).toBeDefined();
    expect(JSON.stringify(failure)).toContain('hunter2');
    const all = gateway.logs.join('\n');
    expect(all).not.toMatch(/"stack"|\n\s+at /);
    expect(all).not.toContain(keyParts(token).secret);
  });

  it('audits a delete that failed unexpectedly as internal_server_error', async () => {
    await gateway.execute(`mutation { deleteMemory(memoryId: "m-2", userId: "u1") { message } }`, {}, { token });
    const audit = dataOf(await gateway.execute<any>(`{ deletionAudit(first: 1) { edges { node { operation backend targetId userId outcome } } } }`, {}, { token }));
    expect(audit.deletionAudit.edges[0].node).toEqual({ operation: 'deleteMemory', backend: 'MIELTO', targetId: 'm-2', userId: 'u1', outcome: 'internal_server_error' });
  });

  it('keeps serving the families that work', async () => {
    expect(dataOf(await gateway.execute(`{ userMemories { edges { node { id } } } }`, {}, { token }))).toEqual({ userMemories: { edges: [] } });
  });
});
