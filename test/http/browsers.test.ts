import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const EXPOSED = ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'];
const GR_JSON = 'application/graphql-response+json';

const preflight = (origin: string) => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-request-id' },
});

const list = (value: string | null) => (value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

describe('CORS with the default CORS_ORIGINS=*', () => {
  let gateway: TestGateway;
  let token: string;
  beforeAll(async () => {
    gateway = await startGateway({ RATE_LIMIT_READS_PER_MIN: '100' });
    token = await gateway.createKey('acme');
  });
  afterAll(async () => gateway?.close());

  it('any origin may call, without credentials: tokens are not cookies', async () => {
    const res = await gateway.fetch('/graphql', preflight('https://app.example.com'));
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(list(res.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-request-id']));
    expect(list(res.headers.get('access-control-allow-methods'))).toEqual(expect.arrayContaining(['get', 'post']));
  });

  it('browser code can read the request id, the rate-limit headers and Retry-After', async () => {
    const res = await gateway.fetch(`/graphql?query=${encodeURIComponent('{ memories { edges { cursor } } }')}`, {
      headers: { origin: 'https://app.example.com', authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(list(res.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(EXPOSED));
    for (const name of ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
      expect(res.headers.get(name), name).not.toBeNull();
    }
  });
});

describe('CORS with a list of origins', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' });
  });
  afterAll(async () => gateway?.close());

  it('allows the listed origins, with credentials', async () => {
    for (const origin of ['https://app.example.com', 'http://localhost:5173']) {
      const res = await gateway.fetch('/graphql', preflight(origin));
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(list(res.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(EXPOSED));
    }
  });

  it('never names another origin', async () => {
    const res = await gateway.fetch('/graphql', preflight('https://evil.example'));
    expect(res.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    expect(res.headers.get('access-control-allow-origin')).not.toBe('*');
  });

  it('a bad CORS_ORIGINS stops start-up with a message naming it', async () => {
    for (const bad of ['app.example.com', 'https://a.example/path', '*, https://a.example']) {
      await expect(startGateway({ CORS_ORIGINS: bad })).rejects.toThrow(/CORS_ORIGINS/);
    }
  });
});

describe('requests a browser could send cross-site, and GraphQL-over-HTTP statuses', () => {
  let gateway: TestGateway;
  let token: string;
  beforeAll(async () => {
    gateway = await startGateway();
    token = await gateway.createKey('acme');
  });
  afterAll(async () => gateway?.close());

  const CREATE = `mutation { createMemory(input: { userId: "u", memory: "from a form" }) { id } }`;

  async function expectRefusal(res: Response, status: number, message?: RegExp) {
    expect(res.status).toBe(status);
    const text = await res.text();
    const body = JSON.parse(text) as { data?: unknown; errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors.length).toBeGreaterThan(0);
    for (const error of body.errors) expect(error.extensions.code).toBe('BAD_USER_INPUT');
    if (message) expect(body.errors[0]!.message).toMatch(message);
    expect(body.data ?? null).toBeNull();
    expect(text).not.toMatch(/stack|at .*:\d+:\d+/);
  }

  it('form and multipart bodies are refused with 415 and never run', async () => {
    const form = new URLSearchParams({ query: CREATE });
    await expectRefusal(
      await gateway.fetch('/graphql', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: form }),
      415,
      /application\/json/,
    );
    const multipart = new FormData();
    multipart.set('operations', JSON.stringify({ query: CREATE }));
    multipart.set('map', '{}');
    await expectRefusal(await gateway.fetch('/graphql', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: multipart }), 415);
    await expectRefusal(
      await gateway.fetch('/graphql', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: JSON.stringify({ query: CREATE }) }),
      415,
    );
    expect(await gateway.app.prisma.memory.count()).toBe(0);
  });

  it('GET never runs a mutation (405)', async () => {
    const res = await gateway.fetch(`/graphql?query=${encodeURIComponent(CREATE)}`, { headers: { authorization: `Bearer ${token}`, accept: GR_JSON } });
    await expectRefusal(res, 405);
    expect(await gateway.app.prisma.memory.count()).toBe(0);
  });

  it.each([
    ['variables={', 'variables=%7B'],
    ['variables=[1', 'variables=%5B1'],
    ['extensions={', 'extensions=%7B'],
    ['extensions=nope', 'extensions=nope'],
    ['variables="a"', 'variables=%22a%22'],
  ])('GET with %s: 400 BAD_USER_INPUT, not 500', async (_name, param) => {
    for (const accept of [GR_JSON, 'application/json']) {
      const res = await gateway.fetch(`/graphql?query=${encodeURIComponent('{__typename}')}&${param}`, { headers: { authorization: `Bearer ${token}`, accept } });
      await expectRefusal(res, 400);
    }
  });

  it.each([
    ['unparsable JSON', '{"query": '],
    ['a missing query', '{"variables": {}}'],
    ['a query that is not a string', '{"query": {"a": 1}}'],
    ['a syntax error', JSON.stringify({ query: '{ memories(' })],
    ['a validation failure', JSON.stringify({ query: '{ memories { nope } }' })],
    ['a bad variable', JSON.stringify({ query: 'query($f: Int) { memories(first: $f) { edges { cursor } } }', variables: { f: 'x' } })],
    ['variables that are not an object', JSON.stringify({ query: '{ __typename }', variables: [1] })],
    ['extensions that are not an object', JSON.stringify({ query: '{ __typename }', extensions: 'x' })],
  ])('accepting application/graphql-response+json: %s is HTTP 400', async (_name, body) => {
    const res = await gateway.fetch('/graphql', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: GR_JSON },
      body,
    });
    await expectRefusal(res, 400);
  });
});
