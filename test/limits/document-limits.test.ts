import { randomUUID } from 'node:crypto';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, errorOf, startGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';

const nested = (open: string, close: string, n: number, inner: string) => `${open.repeat(n)}${inner}${close.repeat(n)}`;

describe('document limits, checked before anything runs', () => {
  let gateway: TestGateway;
  let token: string;

  beforeAll(async () => {
    gateway = await startGateway();
    token = await gateway.createKey('acme');
  });
  afterAll(async () => gateway?.close());

  /** A refusal as a client sees it: HTTP 400, one BAD_USER_INPUT error, no data, a clear message. */
  function expectRefused(res: GraphQLResponse, message: RegExp) {
    expect(res.status).toBe(400);
    const error = errorOf(res);
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(message);
    expect(res.body.data ?? null).toBeNull();
  }

  it('depth: the default of 10 fits every path the schema has, and 11 levels are refused', async () => {
    const deepest = `{ _entities(representations: []) { ... on User { events { edges { node { eventTags { tag } } } } } } }`;
    dataOf(await gateway.execute(deepest, {}, { token }));
    const res = await gateway.execute(`{ ${nested('a { ', ' }', 10, 'b')} }`, {}, { token });
    expect(res.status).toBe(400);
    expect(res.body.errors?.map((e) => e.message)).toContain('Query depth limit of 10 exceeded, found 11.');
    expect(res.body.errors?.every((e) => e.extensions?.code === 'BAD_USER_INPUT')).toBe(true);
  });

  it('depth counts fields, so a document deeper than the limit is refused before validation of its fields', async () => {
    const g = await startGateway({ MAX_QUERY_DEPTH: '3' });
    try {
      const t = await g.createKey('acme');
      dataOf(await g.execute(`{ memories { edges { cursor } } }`, {}, { token: t }));
      expectRefused(await g.execute(`{ memories { edges { node { id } } } }`, {}, { token: t }), /depth limit of 3 exceeded, found 4/);
      expectRefused(await g.execute(`{ ...F } fragment F on Query { memories { edges { node { id } } } }`, {}, { token: t }), /depth/);
      // Introspection nests deeper than that, and is exempt.
      dataOf(await g.execute(getIntrospectionQuery(), {}, { token: t }));
    } finally {
      await g.close();
    }
  });

  it('aliases: 30 pass, 31 are refused (MAX_QUERY_ALIASES), __typename ones included', async () => {
    const aliases = (n: number, field = '__typename') => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
    dataOf(await gateway.execute(aliases(30), {}, { token }));
    expectRefused(await gateway.execute(aliases(31), {}, { token }), /Aliases limit of 30 exceeded, found 31/);
    expectRefused(await gateway.execute(aliases(31, 'memories { edges { cursor } }'), {}, { token }), /Aliases limit/);
  });

  it('a 5,000-alias document is refused whole, without running any of it', async () => {
    const huge = `{ ${Array.from({ length: 5000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expectRefused(await gateway.execute(huge, {}, { token }), /more than 1000 tokens/);
    const creates = `mutation { ${Array.from({ length: 5000 }, (_, i) => `a${i}: createMemory(input: { userId: "u", memory: "m" }) { id }`).join(' ')} }`;
    expectRefused(await gateway.execute(creates, {}, { token }), /tokens/);
    expect(await gateway.app.prisma.memory.count()).toBe(0);
  });

  it('a 200 KB document is refused by its token count', async () => {
    const big = `{ memories(userId: "${'x'.repeat(100)}") { edges { cursor } } ${' __typename'.repeat(20_000)} }`;
    expect(big.length).toBeGreaterThan(200_000);
    expectRefused(await gateway.execute(big, {}, { token }), /more than 1000 tokens/);
  });

  it.each([
    ['nested selection sets', `{ ${nested('a { ', ' }', 3000, 'b')} }`],
    ['nested list literals', `{ memories(userId: ${nested('[', ']', 3000, '"x"')}) { edges { cursor } } }`],
    ['nested object literals', `mutation { createMemory(input: { userId: "u", memory: "m", metadata: ${nested('{ a: ', ' }', 3000, '1')} }) { id } }`],
  ])('%s thousands deep: 400, not a stack overflow', async (_name, query) => {
    expectRefused(await gateway.execute(query, {}, { token }), /tokens|nest/);
  });

  it('literal values nest at most 32 levels deep', async () => {
    const metadata = (n: number) => nested('{ a: ', ' }', n, '1');
    const at = (n: number) => `mutation { createMemory(input: { userId: "u", memory: "m", metadata: ${metadata(n)} }) { id } }`;
    // The input object and `metadata` itself are two of the levels.
    dataOf(await gateway.execute(at(30), {}, { token }));
    expectRefused(await gateway.execute(at(40), {}, { token }), /nest more than 32 levels/);
  });

  it('deep JSON in variables (metadata) is BAD_USER_INPUT, not an internal error', async () => {
    const query = `mutation($m: JSON) { createMemory(input: { userId: "u", memory: "m", metadata: $m }) { id } }`;
    // Written out, not built recursively: the client side must not be what overflows.
    const body = (variables: string) => `{"query":${JSON.stringify(query)},"variables":${variables}}`;
    const post = (variables: string) =>
      gateway.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
        body: body(variables),
      });
    const deep = (n: number) => `{"m":${'{"a":'.repeat(n)}"leaf"${'}'.repeat(n)}}`;
    expect((await post(deep(20))).status).toBe(200);
    for (const depth of [40, 130, 5000, 100_000]) {
      const res = await post(deep(depth));
      expect(res.status, `depth ${depth}`).toBe(400);
      const text = await res.text();
      expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(text).toMatch(/nest at most 32 levels/);
    }
    const res = await post(`{"pad":${'['.repeat(100)}${']'.repeat(100)}}`);
    expect(res.status).toBe(400);
  });

  it('cost: list fields multiply by first; over MAX_QUERY_COST is refused', async () => {
    const g = await startGateway({ MAX_QUERY_COST: '500' });
    try {
      const t = await g.createKey('acme');
      // 5 aliases x (1 + 100 nodes) = 505; 4 x 101 = 404.
      const pages = (n: number, first: string) => `query${first === '$f' ? '($f: Int)' : ''} { ${Array.from({ length: n }, (_, i) => `p${i}: memories(first: ${first}) { edges { node { id } } pageInfo { hasNextPage } }`).join(' ')} }`;
      dataOf(await g.execute(pages(4, '100'), {}, { token: t }));
      expectRefused(await g.execute(pages(5, '100'), {}, { token: t }), /Estimated cost 505 exceeds the limit of 500/);
      // `first` from a variable counts the same.
      expectRefused(await g.execute(pages(5, '$f'), { f: 100 }, { token: t }), /Estimated cost 505/);
      dataOf(await g.execute(pages(5, '$f'), { f: 10 }, { token: t }));
      // The same document again: each request is estimated with its own variables.
      expectRefused(await g.execute(pages(5, '$f'), { f: 100 }, { token: t }), /Estimated cost 505/);
      dataOf(await g.execute(pages(5, '$f'), { f: 10 }, { token: t }));
      // A variable default counts when the variable is left out; fields dropped by @include do not count.
      const withDefault = `query($f: Int = 100, $all: Boolean!) { ${Array.from({ length: 5 }, (_, i) => `p${i}: memories(first: $f) @include(if: ${i < 4 ? 'true' : '$all'}) { edges { node { id } } }`).join(' ')} }`;
      dataOf(await g.execute(withDefault, { f: 10, all: true }, { token: t }));
      expectRefused(await g.execute(withDefault, { all: true }, { token: t }), /Estimated cost 505/);
      dataOf(await g.execute(withDefault, { all: false }, { token: t }));
      expectRefused(await g.execute(withDefault, { all: true }, { token: t }), /Estimated cost 505/);
      // Omitted `first` counts its default (50 for memories): 10 x 51 = 510.
      expectRefused(await g.execute(`{ ${Array.from({ length: 10 }, (_, i) => `p${i}: memories { edges { node { id } } }`).join(' ')} }`, {}, { token: t }), /cost 510/);
    } finally {
      await g.close();
    }
  });

  it("a federation router's _entities query for 100 users passes the defaults, with default page sizes", async () => {
    const representations = Array.from({ length: 100 }, () => ({ __typename: 'User', id: randomUUID() }));
    const query = `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on User {
      id
      events { edges { node { id eventTip eventTags { tag value } } } pageInfo { hasNextPage endCursor } }
      userMemories { edges { node { id content context } } pageInfo { hasNextPage endCursor } }
      memories { edges { node { id memory topics metadata } } pageInfo { hasNextPage endCursor } }
    } } }`;
    const data = dataOf(await gateway.execute<{ _entities: unknown[] }>(query, { representations }, { token }));
    expect(data._entities).toHaveLength(100);
  });

  it('GraphiQL’s introspection query passes', async () => {
    const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true });
    const data = dataOf(await gateway.execute<{ __schema: { types: unknown[] } }>(query, {}, { token }));
    expect(data.__schema.types.length).toBeGreaterThan(10);
  });

  it('batches: up to 10 operations run, 11 are refused with 413', async () => {
    const batch = (n: number) =>
      gateway.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ query: `{ memories(first: 1, userId: "nobody-${i}") { edges { cursor } } }` }))),
      });
    const ten = await batch(10);
    expect(ten.status).toBe(200);
    expect(await ten.json()).toEqual(Array.from({ length: 10 }, () => ({ data: { memories: { edges: [] } } })));
    const eleven = await batch(11);
    expect(eleven.status).toBe(413);
    const body = (await eleven.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0]!.message).toMatch(/10/);
  });
});
