import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TEST_JWT_SECRET, signEndUserToken } from '../helpers/jwt.js';

/**
 * Property-based fuzzing of the real HTTP layer: requests a hostile or broken client could send
 * (documents with mutated arguments, odd strings and numbers, unknown fields, bad variables,
 * deep nesting, many aliases, random bodies, methods and headers). Whatever comes in, the answer
 * is never a 5xx, never INTERNAL_SERVER_ERROR, every error carries a contract code and no stack
 * trace, documents over the limits never run, browsers never get credentials, and the server
 * keeps answering.
 *
 * The seed is printed before each run; replay a failure with FUZZ_SEED=<seed> npx vitest run
 * test/fuzz (fast-check also prints the seed and the shrunk counterexample).
 */

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CODES = new Set<string>(ERROR_CODES);
const MAX_ALIASES = 30;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Root aliases the document carries, when it is a generated document. */
  aliases?: number;
  describe: string;
}

// ---- values ---------------------------------------------------------------------------------

/** Nesting depths around every limit that matters: ours (32), the store's JSON (~100), the stack (~2000). */
const depth = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 3, arbitrary: fc.integer({ min: 60, max: 400 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 6000 }) },
);

const oddString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '..', '.', '%2e%2e', '../../etc/passwd', 'a\r\nX-Injected: 1', '\u0000', '\ud800', 'null', '0', '-1', '__proto__', 'constructor'),
  fc.uuid(),
  fc.constantFrom(randomUUID(), '6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'a8098c1a-f86e-31d1-a7e3-a3f1b4ddc9a0', '00000000-0000-0000-0000-000000000000'),
  fc.integer({ min: 200, max: 70_000 }).map((n) => 'x'.repeat(n)),
  fc.base64String({ maxLength: 60 }),
);

const oddNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -0, 1, 100, 101, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, Number.MAX_VALUE, 1e308, 0.5, -1.5),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A JSON value as text; deep ones are written out, not built recursively. */
const jsonText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: oddString.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: oddNumber.map((n) => JSON.stringify(n)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(depth, fc.boolean())
      .map(([n, list]) => (list ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)),
  },
);

/** The same as a GraphQL literal. */
const literalText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: oddString.map((s) => JSON.stringify(s)) },
  { weight: 2, arbitrary: oddNumber.map((n) => String(n)) },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', 'LOCAL', '$undeclared', '[]', '{}', '"""block\nstring"""') },
  { weight: 1, arbitrary: fc.array(oddString.map((s) => JSON.stringify(s)), { maxLength: 5 }).map((xs) => `[${xs.join(', ')}]`) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(depth, fc.boolean())
      .map(([n, list]) => (list ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{ a: '.repeat(n)}1${' }'.repeat(n)}`)),
  },
);

// ---- documents -------------------------------------------------------------------------------

interface OperationShape {
  kind: 'query' | 'mutation';
  field: string;
  /** Argument name → [its type, for declaring variables; a valid literal]. */
  args: Record<string, [string, string]>;
  selection: string;
  /** Input object field → a valid literal, for the `input` argument. */
  input?: Record<string, string>;
}

const UUID = '"9b2f6c1e-4d3a-4f8b-9c2d-1a2b3c4d5e6f"';

const OPERATIONS: OperationShape[] = [
  { kind: 'query', field: 'memories', args: { userId: ['String', '"u-1"'], workspaceId: ['String', '"ws"'], first: ['Int', '5'], after: ['String', 'null'] }, selection: 'edges { cursor node { id memory topics metadata createdAt backend } } pageInfo { hasNextPage endCursor }' },
  { kind: 'query', field: 'userMemories', args: { userId: ['String', '"u-1"'], agentId: ['String', '"agent"'], subTenantId: ['String', 'null'], first: ['Int', '5'], after: ['String', 'null'] }, selection: 'edges { node { id content context } } pageInfo { hasNextPage }' },
  { kind: 'query', field: 'userEvents', args: { userId: ['ID!', UUID], first: ['Int', '5'], after: ['String', 'null'] }, selection: 'edges { node { id eventTip eventTags { tag value } profileDelta { content } } }' },
  { kind: 'query', field: 'deletionAudit', args: { userId: ['String', '"u-1"'], first: ['Int', '5'], after: ['String', 'null'] }, selection: 'edges { node { id outcome targetId } }' },
  { kind: 'query', field: '_entities', args: { representations: ['[_Any!]!', '[{ __typename: "User", id: "u-1" }]'] }, selection: '... on User { id events { edges { node { id } } } memories(first: 3) { edges { node { id } } } }' },
  {
    kind: 'mutation',
    field: 'createMemory',
    args: { input: ['CreateMemoryInput!', ''], workspaceId: ['String', 'null'] },
    selection: 'id metadata topics',
    input: { userId: '"u-1"', memory: '"likes tea"', topics: '["food"]', metadata: '{ source: "chat" }' },
  },
  {
    kind: 'mutation',
    field: 'addUserMemory',
    args: { input: ['AddUserMemoryInput!', ''] },
    selection: 'id context',
    input: { content: '"likes tea"', userId: '"u-1"', agentId: '"agent"', userPrompt: '"what do I like?"', context: '["a"]', subTenantId: 'null' },
  },
  {
    kind: 'mutation',
    field: 'createUserEvent',
    args: { userId: ['ID!', UUID], input: ['CreateUserEventInput!', ''] },
    selection: 'id eventTags { tag }',
    input: { eventTip: '"booked a flight"', eventTags: '[{ tag: "topic", value: "travel" }]', profileDelta: '[{ content: "travels", topic: "t" }]' },
  },
  { kind: 'mutation', field: 'deleteMemory', args: { memoryId: ['ID!', '"m-1"'], userId: ['String', '"u-1"'], workspaceId: ['String', 'null'] }, selection: 'memoryId message' },
  { kind: 'mutation', field: 'deleteUserMemory', args: { userMemoryId: ['ID!', '"m-1"'], subTenantId: ['String', 'null'] }, selection: 'deleted' },
  { kind: 'mutation', field: 'deleteUserEvent', args: { userId: ['ID!', UUID], eventId: ['ID!', UUID] }, selection: 'deleted' },
];

/** True one time in ten: unknown arguments and fields fail validation, so they must not hide the rest. */
const rarely = fc.integer({ min: 0, max: 9 }).map((n) => n === 0);

/** A valid value most of the time, else an odd one: requests get far enough to meet the stores. */
const mutated = (valid: string) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(valid) }, { weight: 2, arbitrary: literalText }, { weight: 1, arbitrary: fc.constant(null) });

/** One argument: a (mutated) literal, a variable (declared with its type or a wrong one), or left out. */
const argument = (name: string, [type, valid]: [string, string], input?: Record<string, string>) => {
  const literal: fc.Arbitrary<{ text: string; variable?: { name: string; declared: string; json: string } }> = input
    ? fc
        .tuple(...Object.entries(input).map(([f, v]) => mutated(v).map((value) => (value === null ? '' : `${f}: ${value}`))), rarely)
        .map(([...parts]) => {
          const unknown = parts.pop() as boolean;
          const fields = (parts as string[]).filter(Boolean);
          if (unknown) fields.push('unknownField: 1');
          return { text: `${name}: { ${fields.join(', ')} }` };
        })
    : mutated(valid).map((value) => ({ text: value === null ? '' : `${name}: ${value}` }));
  // An input object as a variable: valid JSON fields, one of them possibly replaced by odd JSON.
  const inputVariable = input
    ? [
        {
          weight: 3,
          arbitrary: fc
            .tuple(fc.constantFrom(...Object.keys(input)), jsonText)
            .map(([odd, json]) => ({
              text: `${name}: $${name}`,
              variable: {
                name,
                declared: type,
                json: `{${Object.entries(input)
                  .map(([f, v]) => `${JSON.stringify(f)}:${f === odd ? json : v.replace(/([{,]\s*)(\w+):/g, '$1"$2":')}`)
                  .join(',')}}`,
              },
            })),
        },
      ]
    : [];
  return fc.oneof(
    ...inputVariable,
    { weight: 6, arbitrary: literal },
    {
      weight: 2,
      arbitrary: fc.tuple(jsonText, fc.constantFrom(type, type, 'String', 'JSON', 'Int', '[ID!]')).map(([json, declared]) => ({
        text: `${name}: $${name}`,
        variable: { name, declared, json },
      })),
    },
  );
};

interface GeneratedField {
  text: string;
  variables: { name: string; declared: string; json: string }[];
}

const field = (op: OperationShape): fc.Arbitrary<GeneratedField> =>
  fc
    .tuple(
      fc.tuple(...Object.entries(op.args).map(([name, spec]) => argument(name, spec, name === 'input' ? op.input : undefined))),
      fc.oneof({ weight: 5, arbitrary: fc.constant(op.selection) }, { weight: 1, arbitrary: fc.constantFrom('nope', 'id nope', '__typename', '') }),
      rarely,
    )
    .map(([args, selection, extraArgument]) => {
      const texts = args.map((a) => a.text).filter(Boolean);
      if (extraArgument) texts.push('unknownArg: 1');
      return {
        text: `${op.field}${texts.length ? `(${texts.join(', ')})` : ''}${selection ? ` { ${selection} }` : ''}`,
        variables: args.flatMap((a) => ('variable' in a && a.variable ? [a.variable] : [])),
      };
    });

const documentRequest: fc.Arbitrary<{ query: string; variablesJson: string; aliases: number }> = fc
  .tuple(
    fc.constantFrom(...OPERATIONS),
    fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 5000 }) }),
    fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: depth }),
  )
  .chain(([op, aliases, depth]) =>
    field(op).map((f) => {
      // Aliases repeat the field; a document stays under ~300 KB however long the field is.
      const count = Math.min(aliases, Math.max(1, Math.floor(300_000 / f.text.length)));
      const fields = aliases === 0 ? [f.text] : Array.from({ length: count }, (_, i) => `a${i}: ${f.text}`);
      const nested = depth > 0 ? [`${'x { '.repeat(depth)}y${' }'.repeat(depth)}`] : [];
      const declared = f.variables.map((v) => `$${v.name}: ${v.declared}`).join(', ');
      const query = `${op.kind}${declared ? `(${declared})` : ''} { ${[...fields, ...nested].join(' ')} }`;
      const variablesJson = `{${f.variables.map((v) => `${JSON.stringify(v.name)}:${v.json}`).join(',')}}`;
      return { query, variablesJson, aliases: aliases === 0 ? 0 : count };
    }),
  );

// ---- requests --------------------------------------------------------------------------------

interface Tokens {
  key: string;
  jwt: string;
}

const authorization = (tokens: Tokens) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(`Bearer ${tokens.key}`) },
    { weight: 2, arbitrary: fc.constant(`Bearer ${tokens.jwt}`) },
    { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `bearer ${tokens.key}`, 'Bearer mgw_x_y', 'Bearer a.b.c') },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => `Bearer ${s}`) },
  );

const headers = (tokens: Tokens, contentType: fc.Arbitrary<string>) =>
  fc
    .record(
      {
        authorization: authorization(tokens),
        'content-type': contentType,
        accept: fc.constantFrom('application/graphql-response+json', 'application/json', '*/*', 'text/html', 'application/graphql-response+json, application/json', 'text/event-stream', 'nope/nope'),
        origin: fc.constantFrom('https://app.example.com', 'null', 'http://localhost:5173', 'https://evil.example'),
        'x-request-id': fc.oneof(fc.uuid(), fc.string({ maxLength: 20 })),
      },
      { requiredKeys: ['authorization'] },
    )
    // Header values a fetch client refuses to send are not requests the server can receive.
    .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => /^[\t\x20-\x7e]*$/.test(v!)))) as fc.Arbitrary<Record<string, string>>;

const JSON_TYPES = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/graphql-response+json');
const ANY_TYPE = fc.oneof(JSON_TYPES, fc.constantFrom('application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'application/graphql', 'application/xml'), fc.string({ maxLength: 20 }));

const documentPost = (tokens: Tokens): fc.Arbitrary<FuzzRequest> =>
  fc.tuple(documentRequest, headers(tokens, JSON_TYPES), fc.option(fc.string({ maxLength: 10 }))).map(([doc, h, operationName]) => ({
    method: 'POST',
    path: '/graphql',
    headers: h,
    body: `{"query":${JSON.stringify(doc.query)},"variables":${doc.variablesJson}${operationName !== null ? `,"operationName":${JSON.stringify(operationName)}` : ''}}`,
    aliases: doc.aliases,
    describe: doc.query.slice(0, 300),
  }));

const rawBody = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  jsonText,
  fc.array(fc.record({ query: fc.oneof(fc.constant('{ __typename }'), fc.constant('{ memories { edges { cursor } } }'), fc.string()) }), { maxLength: 15 }).map((b) => JSON.stringify(b)),
  fc.record({ query: fc.oneof(fc.string(), fc.constant(null), fc.integer()), variables: fc.jsonValue({ maxDepth: 2 }), extensions: fc.jsonValue({ maxDepth: 2 }) }).map((b) => JSON.stringify(b)),
  fc.constantFrom('', '{', '[', 'null', '[]', '{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}}', 'query=%7B__typename%7D'),
);

const rawPost = (tokens: Tokens): fc.Arbitrary<FuzzRequest> =>
  fc.tuple(rawBody, headers(tokens, ANY_TYPE), fc.constantFrom('POST', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE')).map(([body, h, method]) => ({
    method,
    path: '/graphql',
    headers: h,
    body,
    describe: body.slice(0, 300),
  }));

const queryParam = fc.oneof(fc.constant(undefined), jsonText, fc.string({ maxLength: 30 }), fc.constantFrom('{', '[1', 'nope', '"a"', '{"a":1}'));

const getRequest = (tokens: Tokens): fc.Arbitrary<FuzzRequest> =>
  fc
    .tuple(
      fc.oneof(documentRequest.map((d) => d.query), fc.constantFrom('{ __typename }', '{ memories { edges { cursor } } }', 'mutation { deleteMemory(memoryId: "x") { message } }'), fc.string({ maxLength: 40 }), fc.constant(undefined)),
      queryParam,
      queryParam,
      fc.option(fc.string({ maxLength: 10 })),
      headers(tokens, ANY_TYPE),
      fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'OPTIONS'),
      fc.constantFrom('/graphql', '/graphql', '/graphql/', '/health', '/nope', '/graphql?'),
    )
    .map(([query, variables, extensions, operationName, h, method, path]) => {
      const params = new URLSearchParams();
      if (query !== undefined) params.set('query', query);
      if (variables !== undefined) params.set('variables', variables);
      if (extensions !== undefined) params.set('extensions', extensions);
      if (operationName !== null) params.set('operationName', operationName);
      const { 'content-type': _drop, ...rest } = h;
      return { method, path: `${path}${path.includes('?') ? '' : '?'}${params}`, headers: rest, describe: `${method} ${path}?${params}`.slice(0, 300) };
    });

// ---- oracles ---------------------------------------------------------------------------------

async function check(gateway: TestGateway, request: FuzzRequest): Promise<void> {
  const response = await gateway.fetch(request.path, {
    method: request.method,
    headers: request.headers,
    body: request.method === 'GET' || request.method === 'HEAD' ? undefined : request.body,
  });
  const text = await response.text();
  const where = `${request.describe}\n→ HTTP ${response.status} ${text.slice(0, 400)}`;

  expect(response.status, where).toBeLessThan(500);
  expect(response.headers.get('access-control-allow-credentials'), where).toBeNull();

  const type = response.headers.get('content-type') ?? '';
  if (!/json/.test(type) || text === '') return;
  expect(text, where).not.toMatch(/\n\s+at |"stack"|node_modules|\.ts:\d+:\d+/);
  const parsed = JSON.parse(text) as unknown;
  const results = (Array.isArray(parsed) ? parsed : [parsed]) as { data?: unknown; errors?: { extensions?: { code?: unknown } }[] }[];
  for (const result of results) {
    for (const error of result.errors ?? []) {
      const code = error.extensions?.code;
      expect(typeof code === 'string' && CODES.has(code), `code ${String(code)}: ${where}`).toBe(true);
      expect(code, where).not.toBe('INTERNAL_SERVER_ERROR');
    }
    // GraphQL over HTTP: a graphql-response+json answer without data is a request error, 4xx.
    if (/graphql-response\+json/.test(type) && !Array.isArray(parsed) && !('data' in result) && result.errors) {
      expect(response.status, where).toBeGreaterThanOrEqual(400);
    }
  }
  // Documents over the alias limit never run.
  if ((request.aliases ?? 0) > MAX_ALIASES && response.status !== 401) {
    const result = results[0]!;
    expect(result.data ?? null, where).toBeNull();
    expect(result.errors?.[0]?.extensions?.code, where).toBe('BAD_USER_INPUT');
  }
}

describe('fuzzing the HTTP layer', () => {
  let gateway: TestGateway;
  let tokens: Tokens;

  beforeAll(async () => {
    // Limits high enough that the fuzzer reaches everything behind them, low enough to be on.
    gateway = await startGateway({ JWT_SECRET: TEST_JWT_SECRET, RATE_LIMIT_READS_PER_MIN: '1000000', RATE_LIMIT_WRITES_PER_MIN: '1000000', LOG_LEVEL: 'silent' });
    tokens = { key: await gateway.createKey('fuzz'), jwt: await signEndUserToken({ sub: 'fuzz-user', tenant: 'fuzz' }) };
    console.log(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})`);
  });
  afterAll(async () => gateway?.close());

  async function stillServing() {
    const res = await gateway.execute(`{ memories(first: 1) { edges { cursor } } }`, {}, { token: tokens.key });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  }

  const runs = [
    ['documents with mutated arguments, odd values, unknown fields, aliases and deep nesting', documentPost, 5000, 0],
    ['random bodies, media types and methods', rawPost, 2500, 1],
    ['GET with random parameters, paths and headers', getRequest, 2500, 2],
  ] as const;

  it.each(runs)('%s', async (_name, arbitrary, numRuns, offset) => {
    await fc.assert(
      fc.asyncProperty(arbitrary(tokens), (request) => check(gateway, request)),
      { seed: SEED + offset, numRuns, endOnFailure: true },
    );
    await stillServing();
  }, 300_000);
});
