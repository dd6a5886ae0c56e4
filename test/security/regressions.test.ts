import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliDecompressSync } from 'node:zlib';
import { createYoga } from 'graphql-yoga';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { useGraphiQLPage } from '../../src/plugins/use-graphiql-page.js';
import { resealLegacySettings, setTenant } from '../../src/tenants.js';
import { TEST_GATEWAY_SECRET } from '../contract/provider-harness.js';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { serveHandler, type ServedGateway } from '../helpers/http-server.js';
import { signEndUserToken, TEST_JWT_SECRET } from '../helpers/jwt.js';
import { waitUntil } from '../helpers/upstream.js';

/**
 * The holes a security review found in the provider paths, one test each: every one of them
 * failed before tenants were sealed off from each other (see also cross-tenant.test.ts, which
 * runs every operation as a hostile tenant).
 */

const ENV_KEY = 'mielto-environment-key';
const KEY_A = 'mielto-key-a';
const KEY_B = 'mielto-key-b';
const MEMORIES = `query($u: String, $w: String) { memories(userId: $u, workspaceId: $w, first: 10) { edges { node { id userId memory } } } }`;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function mieltoGateway(env: Record<string, string> = {}, fakeOptions: { ownerCheckOnDelete?: boolean } = {}) {
  const fake = await startMieltoFake({ apiKeys: [ENV_KEY, KEY_A, KEY_B], ...fakeOptions });
  cleanups.push(() => fake.close());
  const gateway = await startGateway({
    GATEWAY_SECRET: TEST_GATEWAY_SECRET,
    JWT_SECRET: TEST_JWT_SECRET,
    MEMORIES_BACKEND: 'mielto',
    MIELTO_URL: fake.url,
    MIELTO_API_KEY: ENV_KEY,
    ...env,
  });
  cleanups.push(() => gateway.close());
  return { fake, gateway };
}

const memoriesOf = (res: Awaited<ReturnType<TestGateway['execute']>>) => (dataOf(res) as any).memories.edges.map((e: any) => e.node.memory);

describe('environment defaults are not shared by every tenant', () => {
  it('the first tenant on the environment credentials claims them; another is refused with the fix, before any call', async () => {
    const { fake, gateway } = await mieltoGateway({ MIELTO_WORKSPACE_ID: 'ws-env' });
    fake.seedMemory(ENV_KEY, { user_id: 'u1', memory: 'acme remembers this', workspaceId: 'ws-env' });
    const acme = await gateway.createKey('acme');
    const globex = await gateway.createKey('globex');

    // A single tenant on the environment's credentials needs no setup.
    expect(memoriesOf(await gateway.execute(MEMORIES, {}, { token: acme }))).toEqual(['acme remembers this']);
    const calls = fake.requests.length;

    const refused = errorOf(await gateway.execute(MEMORIES, {}, { token: globex }));
    expect(refused.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mielto' });
    expect(refused.message).toContain('another tenant of this gateway already uses');
    expect(refused.message).toContain('npx memory-gateway tenants set globex --mielto-workspace-id <its own workspace id> or --mielto-api-key <its own key>');
    // The caller learns nothing about the other tenant's scope; the operator's log has it.
    expect(refused.message).not.toMatch(/ws-env|acme|127\.0\.0\.1/);
    const warning = gateway.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'upstream scope refused: it belongs to another tenant');
    expect(warning).toMatchObject({ tenant: 'globex', owner: 'acme', provider: 'mielto', scope: expect.stringContaining('ws-env') });
    expect(fake.requests).toHaveLength(calls);

    // Given a workspace of its own on the same key, it is served, and sees only that workspace.
    await setTenant(gateway.app.prisma, gateway.config, 'globex', { settings: { 'mielto.workspaceId': 'ws-globex' } });
    expect(memoriesOf(await gateway.execute(MEMORIES, {}, { token: globex }))).toEqual([]);
    expect(fake.requests.at(-1)!.headers['x-workspace-id']).toBe('ws-globex');
  });

  it('another spelling of the same scope is the same scope: spaces around a partition, the URL written differently', async () => {
    const { fake, gateway } = await mieltoGateway({ MIELTO_WORKSPACE_ID: 'ws-env' });
    fake.seedMemory(ENV_KEY, { user_id: 'u1', memory: "acme's", workspaceId: 'ws-env' });
    dataOf(await gateway.execute(MEMORIES, {}, { token: await gateway.createKey('acme') }));
    const calls = fake.requests.length;
    const spellings: Record<string, string>[] = [
      { 'mielto.workspaceId': 'ws-env ' },
      { 'mielto.url': fake.url.replace('http://', 'HTTP://'), 'mielto.apiKey': ENV_KEY, 'mielto.workspaceId': ' ws-env' },
      { 'mielto.url': `${fake.url}//`, 'mielto.apiKey': ENV_KEY, 'mielto.workspaceId': 'ws-env' },
      { 'mielto.url': `${fake.url}/api/..`, 'mielto.apiKey': ENV_KEY, 'mielto.workspaceId': 'ws-env' },
    ];
    for (const [i, settings] of spellings.entries()) {
      const tenant = `other-${i}`;
      await setTenant(gateway.app.prisma, gateway.config, tenant, { settings });
      const res = await gateway.execute(MEMORIES, {}, { token: await gateway.createKey(tenant) });
      expect(errorOf(res).extensions, JSON.stringify(settings)).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mielto' });
      expect(JSON.stringify(res.body)).not.toContain("acme's");
    }
    expect(fake.requests).toHaveLength(calls);
  });

  it('ALLOW_SHARED_UPSTREAM_SCOPE=true lets tenants share one scope, and then they see each other\'s data there', async () => {
    const { fake, gateway } = await mieltoGateway({ ALLOW_SHARED_UPSTREAM_SCOPE: 'true' });
    fake.seedMemory(ENV_KEY, { user_id: 'u1', memory: 'shared' });
    for (const tenant of ['acme', 'globex']) {
      expect(memoriesOf(await gateway.execute(MEMORIES, {}, { token: await gateway.createKey(tenant) }))).toEqual(['shared']);
    }
  });

  it('a claim holds across gateways on the same database (it is a row, not process memory)', async () => {
    const { gateway } = await mieltoGateway();
    dataOf(await gateway.execute(MEMORIES, {}, { token: await gateway.createKey('acme') }));
    const claims = await gateway.app.prisma.upstreamScopeClaim.findMany();
    expect(claims).toEqual([expect.objectContaining({ provider: 'mielto', tenantId: 'acme' })]);
    // The claim names the scope for operators, never the credential.
    expect(JSON.stringify(claims)).not.toContain(ENV_KEY);
  });
});

describe("the environment's credential goes only to the environment's URL", () => {
  it('a tenant that sets its own URL without its own key is refused, and that URL receives nothing', async () => {
    const { gateway } = await mieltoGateway();
    const elsewhere = await startMieltoFake({ apiKeys: [ENV_KEY] });
    cleanups.push(() => elsewhere.close());
    await setTenant(gateway.app.prisma, gateway.config, 'acme', { settings: { 'mielto.url': elsewhere.url } });
    const res = errorOf(await gateway.execute(MEMORIES, {}, { token: await gateway.createKey('acme') }));
    expect(res.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mielto' });
    expect(res.message).toContain('API key of its own');
    expect(elsewhere.requests).toEqual([]);
  });
});

describe('scope arguments and circuit breakers', () => {
  it('control characters in ids and scope arguments are BAD_USER_INPUT before any call, and never open the circuit', async () => {
    const { fake, gateway } = await mieltoGateway({ UPSTREAM_MAX_RETRIES: '0', UPSTREAM_BREAKER_THRESHOLD: '2' });
    const token = await gateway.createKey('acme');
    for (const value of ['ws\r\nx-evil: 1', 'ws\u0000', 'tab\there']) {
      for (const res of [
        await gateway.execute(MEMORIES, { w: value }, { token }),
        await gateway.execute(MEMORIES, { u: value }, { token }),
        await gateway.execute(`mutation($id: ID!) { deleteMemory(memoryId: $id) { message } }`, { id: value }, { token }),
      ]) {
        expect(errorOf(res).extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      }
    }
    expect(fake.requests).toEqual([]);
    dataOf(await gateway.execute(MEMORIES, {}, { token }));
    expect(fake.requests).toHaveLength(1);
  });

  it('breakers are per tenant: one tenant\'s failures do not open the circuit for another on the same provider', async () => {
    const { fake, gateway } = await mieltoGateway({
      ALLOW_SHARED_UPSTREAM_SCOPE: 'true',
      UPSTREAM_MAX_RETRIES: '0',
      UPSTREAM_BREAKER_THRESHOLD: '2',
      UPSTREAM_BREAKER_COOLDOWN_MS: '60000',
    });
    const acme = await gateway.createKey('acme');
    const globex = await gateway.createKey('globex');
    fake.serverError({ status: 500, times: 2 });
    for (let i = 0; i < 2; i++) expect(errorOf(await gateway.execute(MEMORIES, {}, { token: globex })).extensions?.code).toBe('UPSTREAM_ERROR');
    expect(errorOf(await gateway.execute(MEMORIES, {}, { token: globex })).message).toContain('circuit open');
    const calls = fake.requests.length;
    dataOf(await gateway.execute(MEMORIES, {}, { token: acme }));
    expect(fake.requests).toHaveLength(calls + 1);
  });
});

describe('one request cannot fan out into thousands of provider calls', () => {
  it('aliased lists beyond what the document limits catch stop at the per-request budget of upstream calls', async () => {
    // The document limits (aliases, tokens, cost) refuse such a document first; here they are
    // opened wide so that the budget, the last line of defence, is what is tested.
    const { fake, gateway } = await mieltoGateway({
      MAX_UPSTREAM_CALLS_PER_REQUEST: '50',
      MAX_QUERY_ALIASES: '5000',
      MAX_QUERY_TOKENS: '5000',
      MAX_QUERY_COST: '100000000',
    });
    const token = await gateway.createKey('acme');
    const fields = Array.from({ length: 150 }, (_, i) => `m${i}: memories(userId: "user-${i}", first: 1) { edges { node { id } } }`).join('\n');
    const res = await gateway.execute(`{ ${fields} }`, {}, { token });
    const limit = gateway.config.requestLimits.upstreamCalls;
    // The root fields are non-null, so the first refused one nulls the answer; the calls already
    // under way finish, and none beyond the budget is made.
    expect(res.body.data).toBeNull();
    expect(errorOf(res).extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'query' });
    expect(errorOf(res).message).toContain(`more than ${limit} calls`);
    await waitUntil(() => fake.requests.length >= limit, 20_000);
    await sleep(300);
    expect(fake.requests).toHaveLength(limit);
  });

  it('_entities refuses more representations than MAX_ENTITY_REPRESENTATIONS before resolving any, and serves 100 users', async () => {
    // The cost limit alone would refuse 10,000 representations with their lists; opened wide, the
    // representation limit still does.
    const { fake, gateway } = await mieltoGateway({ MAX_QUERY_COST: '100000000' });
    const token = await gateway.createKey('acme');
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id memories(first: 1) { edges { node { id } } } } } }`;
    const reps = (n: number) => Array.from({ length: n }, (_, i) => ({ __typename: 'User', id: `user-${i}` }));
    const refused = errorOf(await gateway.execute(query, { r: reps(10_000) }, { token }));
    expect(refused.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'representations' });
    expect(fake.requests).toEqual([]);
    const served = dataOf(await gateway.execute<any>(query, { r: reps(100) }, { token }));
    expect(served._entities).toHaveLength(100);
  });
});

describe('unauthenticated requests are cheap and learn nothing', () => {
  it('a document from a caller without a key is refused before it is parsed or validated: no suggestions, no field names', async () => {
    const { gateway } = await mieltoGateway();
    for (const token of [null, 'not-a-key']) {
      const res = await gateway.execute(`{ memorie { edges { node { idd } } } }`, {}, { token });
      expect(res.status).toBe(401);
      expect(errorOf(res).extensions).toEqual({ code: 'UNAUTHENTICATED' });
      expect(JSON.stringify(res.body)).not.toMatch(/Did you mean|memories/);
    }
    // Even a document that would not parse: the answer is about the key.
    const deep = '{'.repeat(50_000);
    const res = await gateway.execute(deep, {}, { token: null });
    expect(res.status).toBe(401);
  });

  it('introspection needs no key, and validation messages suggest no names to a caller with one', async () => {
    const { gateway } = await mieltoGateway();
    const schema = dataOf(await gateway.execute<any>(`{ __schema { queryType { name } } __typename }`, {}, { token: null }));
    expect(schema.__schema.queryType.name).toBe('Query');
    // With a placeholder header, as GraphiQL sends before a key is pasted.
    dataOf(await gateway.execute(`{ __type(name: "Memory") { fields { name } } }`, {}, { token: 'YOUR_API_KEY' }));

    const res = await gateway.execute(`{ memorie { edges { node { id } } } }`, {}, { token: await gateway.createKey('acme') });
    expect(errorOf(res).extensions?.code).toBe('BAD_USER_INPUT');
    expect(errorOf(res).message).not.toMatch(/Did you mean/);
  });

  it('GraphiQL is rendered once, served compressed, and revalidated with its ETag', async () => {
    let renders = 0;
    const page = `<html>${'GraphiQL page '.repeat(10_000)}</html>`;
    const yoga = createYoga({
      graphiql: false,
      plugins: [
        useGraphiQLPage('/graphql', async () => {
          renders += 1;
          return page;
        }),
      ],
    });
    const get = (headers: Record<string, string> = {}) => yoga.fetch('http://gateway.test/graphql', { headers: { accept: 'text/html', ...headers } });
    const responses = await Promise.all(Array.from({ length: 20 }, () => get({ 'accept-encoding': 'gzip, br' })));
    expect(renders).toBe(1);
    const first = responses[0]!;
    expect(first.headers.get('content-encoding')).toBe('br');
    expect(first.headers.get('cache-control')).toContain('max-age');
    const compressed = Buffer.from(await first.arrayBuffer());
    expect(compressed.length).toBeLessThan(page.length / 10);
    expect(brotliDecompressSync(compressed).toString()).toBe(page);
    const etag = first.headers.get('etag')!;
    expect(new Set(responses.map((r) => r.headers.get('etag')))).toEqual(new Set([etag]));
    const revalidated = await get({ 'if-none-match': etag });
    expect(revalidated.status).toBe(304);
    expect(await (await get()).text()).toBe(page);
  });

  it("the gateway's own GraphiQL page offers an ASCII placeholder header a browser can send", async () => {
    const { gateway } = await mieltoGateway();
    const res = await gateway.fetch('/graphql', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Bearer YOUR_API_KEY');
    expect(html).toContain('memory-gateway');
  });
});

describe('Mielto deletes: the gateway checks the owner itself', () => {
  it("a delete naming a user never removes another user's memory, even where the provider would", async () => {
    const { fake, gateway } = await mieltoGateway({}, { ownerCheckOnDelete: false });
    const theirs = fake.seedMemory(ENV_KEY, { user_id: 'bob', memory: "bob's" });
    const key = await gateway.createKey('acme');
    const alice = await signEndUserToken({ sub: 'alice', tenant: 'acme' });
    for (const [token, variables] of [
      [key, { id: theirs, u: 'alice' }],
      [alice, { id: theirs }],
    ] as const) {
      const res = await gateway.execute(`mutation($id: ID!, $u: String) { deleteMemory(memoryId: $id, userId: $u) { message } }`, variables, { token });
      expect(errorOf(res).extensions).toEqual({ code: 'NOT_FOUND' });
    }
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect(memoriesOf(await gateway.execute(MEMORIES, { u: 'bob' }, { token: key }))).toEqual(["bob's"]);
  });
});

describe('sealed settings are bound to their tenant', () => {
  it("a sealed value copied into another tenant's row does not open there", async () => {
    const { fake, gateway } = await mieltoGateway();
    fake.seedMemory(KEY_A, { user_id: 'u1', memory: "acme's" });
    await setTenant(gateway.app.prisma, gateway.config, 'acme', { settings: { 'mielto.apiKey': KEY_A } });
    await setTenant(gateway.app.prisma, gateway.config, 'globex', { settings: { 'mielto.apiKey': KEY_B } });
    const { sealedSettings } = await gateway.app.prisma.tenant.findUniqueOrThrow({ where: { id: 'acme' } });
    await gateway.app.prisma.tenant.update({ where: { id: 'globex' }, data: { sealedSettings } });

    const res = await gateway.execute(MEMORIES, {}, { token: await gateway.createKey('globex') });
    expect(errorOf(res).extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(JSON.stringify(res.body)).not.toContain("acme's");
    expect(fake.requests).toEqual([]);
    expect(memoriesOf(await gateway.execute(MEMORIES, {}, { token: await gateway.createKey('acme') }))).toEqual(["acme's"]);
  });

  it('a gateway without the secret its tenants were sealed with says what an operator must do, not "Unexpected error"', async () => {
    const fake = await startMieltoFake({ apiKeys: [KEY_A] });
    cleanups.push(() => fake.close());
    const sealed = await startGateway({ GATEWAY_SECRET: TEST_GATEWAY_SECRET, MIELTO_URL: fake.url });
    cleanups.push(() => sealed.close());
    await setTenant(sealed.app.prisma, sealed.config, 'acme', { memories: 'mielto', settings: { 'mielto.apiKey': KEY_A } });
    const token = await sealed.createKey('acme');
    // Same database, no secret: the tenant's settings cannot be opened.
    const { sealedSettings } = await sealed.app.prisma.tenant.findUniqueOrThrow({ where: { id: 'acme' } });
    const { gateway } = await mieltoGateway({ GATEWAY_SECRET: 'another-gateway-secret-0123456789abcdef' });
    await gateway.app.prisma.tenant.create({ data: { id: 'acme', memoriesBackend: 'mielto', sealedSettings } });
    const res = errorOf(await gateway.execute(MEMORIES, {}, { token: await gateway.createKey('acme') }));
    expect(res.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(res.message).toContain('cannot be opened');
    expect(fake.requests).toEqual([]);
    dataOf(await sealed.execute(MEMORIES, {}, { token }));
  });

  it('settings sealed in the old unbound format are re-sealed for their own tenant and keep working', async () => {
    const { fake, gateway } = await mieltoGateway();
    fake.seedMemory(KEY_A, { user_id: 'u1', memory: "acme's" });
    // The previous format: AES-256-GCM under SHA-256 of the secret, no associated data.
    const key = createHash('sha256').update(`memory-gateway:settings:${TEST_GATEWAY_SECRET}`).digest();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify({ 'mielto.apiKey': KEY_A }), 'utf8'), cipher.final()]);
    const legacy = ['v1', iv, cipher.getAuthTag(), data].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
    await gateway.app.prisma.tenant.create({ data: { id: 'acme', sealedSettings: legacy } });

    expect(await resealLegacySettings(gateway.app.prisma, TEST_GATEWAY_SECRET)).toBe(1);
    const row = await gateway.app.prisma.tenant.findUniqueOrThrow({ where: { id: 'acme' } });
    expect(row.sealedSettings).toMatch(/^v2\./);
    expect(memoriesOf(await gateway.execute(MEMORIES, {}, { token: await gateway.createKey('acme') }))).toEqual(["acme's"]);
    expect(await resealLegacySettings(gateway.app.prisma, TEST_GATEWAY_SECRET)).toBe(0);
  });
});

describe('end-user JWTs', () => {
  const LIST = `{ memories(first: 5) { edges { node { id } } } }`;
  const sign = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(new TextEncoder().encode(secret));

  it('a token without exp is refused', async () => {
    const { gateway } = await mieltoGateway({ MEMORIES_BACKEND: 'local' });
    await gateway.createKey('acme');
    const res = await gateway.execute(LIST, {}, { token: await sign({ tenant: 'acme' }) });
    expect(res.status).toBe(401);
    expect(errorOf(res).message).toContain('exp');
    dataOf(await gateway.execute(LIST, {}, { token: await signEndUserToken({ sub: 'alice', tenant: 'acme' }) }));
  });

  it('a token naming a tenant that does not exist is refused', async () => {
    const { gateway } = await mieltoGateway({ MEMORIES_BACKEND: 'local' });
    const res = await gateway.execute(LIST, {}, { token: await signEndUserToken({ sub: 'alice', tenant: 'no-such-tenant' }) });
    expect(res.status).toBe(401);
    expect(errorOf(res).extensions).toEqual({ code: 'UNAUTHENTICATED' });
    expect(await gateway.app.prisma.tenant.count({ where: { id: 'no-such-tenant' } })).toBe(0);
  });

  it('wrong iss or aud is refused when JWT_ISSUER / JWT_AUDIENCE are set', async () => {
    const { gateway } = await mieltoGateway({ MEMORIES_BACKEND: 'local', JWT_ISSUER: 'https://login.acme.test', JWT_AUDIENCE: 'memory-gateway' });
    await gateway.createKey('acme');
    const token = (iss: string, aud: string) =>
      new SignJWT({ tenant: 'acme' }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer(iss).setAudience(aud).setExpirationTime('5m').sign(new TextEncoder().encode(TEST_JWT_SECRET));
    dataOf(await gateway.execute(LIST, {}, { token: await token('https://login.acme.test', 'memory-gateway') }));
    expect((await gateway.execute(LIST, {}, { token: await token('https://evil.test', 'memory-gateway') })).status).toBe(401);
    expect((await gateway.execute(LIST, {}, { token: await token('https://login.acme.test', 'other-api') })).status).toBe(401);
  });

  describe('a tenant with its own issuer', () => {
    let jwks: ServedGateway;
    afterEach(async () => jwks?.close());

    it("accepts only its issuer's tokens; gateway-wide tokens cannot name it", async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
      jwks = await serveHandler((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [jwk] }));
      }, '/jwks.json');
      const { gateway } = await mieltoGateway({ MEMORIES_BACKEND: 'local' });
      await setTenant(gateway.app.prisma, gateway.config, 'acme', {
        jwt: { issuer: 'https://login.acme.test', jwksUrl: jwks.url, audience: 'memory-gateway' },
      });
      await gateway.createKey('globex');
      const own = (claims: { iss?: string; aud?: string; tenant?: string }) =>
        new SignJWT({ tenant: claims.tenant ?? 'acme' })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setSubject('alice')
          .setIssuer(claims.iss ?? 'https://login.acme.test')
          .setAudience(claims.aud ?? 'memory-gateway')
          .setExpirationTime('5m')
          .sign(privateKey);

      dataOf(await gateway.execute(LIST, {}, { token: await own({}) }));
      // The gateway-wide secret cannot name a tenant with its own issuer, whatever it claims.
      expect((await gateway.execute(LIST, {}, { token: await signEndUserToken({ sub: 'alice', tenant: 'acme' }) })).status).toBe(401);
      expect((await gateway.execute(LIST, {}, { token: await signEndUserToken({ sub: 'alice', tenant: 'acme', iss: 'https://login.acme.test' }) })).status).toBe(401);
      expect((await gateway.execute(LIST, {}, { token: await own({ iss: 'https://login.other.test' }) })).status).toBe(401);
      expect((await gateway.execute(LIST, {}, { token: await own({ aud: 'other' }) })).status).toBe(401);
      // Its issuer's tokens cannot name another tenant either: that tenant trusts the gateway-wide secret only.
      expect((await gateway.execute(LIST, {}, { token: await own({ tenant: 'globex' }) })).status).toBe(401);
      dataOf(await gateway.execute(LIST, {}, { token: await signEndUserToken({ sub: 'bob', tenant: 'globex' }) }));
    });
  });
});

describe('audit request ids', () => {
  it("a client cannot forge the audit's request id: its X-Request-Id is kept beside the gateway's own", async () => {
    const { gateway } = await mieltoGateway({ MEMORIES_BACKEND: 'local' });
    const token = await gateway.createKey('acme');
    const forged = randomUUID();
    const res = await gateway.execute(`mutation { deleteMemory(memoryId: "m-1") { message } }`, {}, { token, headers: { 'x-request-id': forged } });
    const audit = dataOf(await gateway.execute<any>(`{ deletionAudit { edges { node { requestId clientRequestId } } } }`, {}, { token })).deletionAudit;
    expect(audit.edges.map((e: any) => e.node)).toEqual([{ requestId: res.headers.get('x-request-id'), clientRequestId: forged }]);
    expect(res.headers.get('x-request-id')).not.toBe(forged);
  });
});
