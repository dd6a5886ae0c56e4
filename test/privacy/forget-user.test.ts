import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { verifyReceipt } from '../../src/privacy/receipts.js';
import { startMieltoFake } from '../fakes/mielto.js';
import { FORGET, finalReceipt, forget, partOf, through, verifyWithCli, type Receipt } from '../helpers/forget.js';
import { STORES } from '../helpers/databases.js';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { signEndUserToken } from '../helpers/jwt.js';
import { CORTEX, LOCAL, PLACEMENT, PROVIDER_KEYS, PROXIED, startProviderFakes, twoTenants, type TwoTenants } from '../helpers/providers.js';

/**
 * forgetUser on the local store, on a tenant routed to Memobase + Datagrid + Mielto and on one
 * routed to Cortex: dry runs, real runs that leave other users alone, audit, signatures checked
 * through the API and the CLI, a persistent upstream failure, pacing under Datagrid's limit, and
 * a second forget of a user while the first runs.
 */

const LISTS = `query($u: ID!, $s: String) {
  userEvents(userId: $u, first: 100) { edges { node { id } } }
  userMemories(userId: $s, first: 100) { edges { node { id } } }
  memories(userId: $s, first: 100) { edges { node { id } } }
}`;
const CORTEX_LIST = `query($s: String) { userMemories(subTenantId: $s, first: 100) { edges { node { id } } } }`;
const AUDIT = `query($u: String) { deletionAudit(userId: $u, first: 100) { edges { node { operation targetId outcome userId backend } } } }`;
const KEY = `{ receiptSigningKey { algorithm publicKeyPem keyId } }`;

const count = (data: any) => ({
  userEvents: data.userEvents.edges.length,
  userMemories: data.userMemories.edges.length,
  memories: data.memories.edges.length,
});

async function lists(gateway: TestGateway, token: string, user: string) {
  return count(dataOf(await gateway.execute<any>(LISTS, { u: user, s: user }, { token })));
}

async function seedLocal(gateway: TestGateway, token: string, user: string, n: number) {
  for (let i = 0; i < n; i++) {
    dataOf(
      await gateway.execute(
        `mutation($u: ID!, $s: String!, $t: String) {
          createUserEvent(userId: $u, input: { eventTip: "trip" }) { id }
          addUserMemory(input: { content: "window seat", userId: $t }) { id }
          createMemory(input: { userId: $s, memory: "peanuts" }) { id }
        }`,
        { u: user, s: user, t: user },
        { token },
      ),
    );
  }
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'memory-gateway-receipts-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(STORES)('forgetUser on the local store (%s)', (store) => {
  let t: TwoTenants;
  beforeAll(async () => {
    t = await twoTenants(LOCAL, { app: { store } });
  }, 60_000);
  afterAll(async () => t?.close());

  it('a dry run counts and deletes nothing; the real run deletes everything of the user and nothing of anyone else', async () => {
    const user = randomUUID();
    const other = randomUUID();
    await seedLocal(t.gateway, t.keyA, user, 3);
    await seedLocal(t.gateway, t.keyA, other, 2);
    await seedLocal(t.gateway, t.keyB, user, 2);

    const dry = await forget(t.gateway, t.keyA, user, true);
    expect(dry).toMatchObject({ userId: user, dryRun: true, status: 'COMPLETED' });
    expect(dry.parts.map((p) => [p.family, p.backend, p.status, p.found, p.deleted])).toEqual([
      ['USER_EVENTS', 'LOCAL', 'COMPLETED', 3, 0],
      ['USER_MEMORIES', 'LOCAL', 'COMPLETED', 3, 0],
      ['MEMORIES', 'LOCAL', 'COMPLETED', 3, 0],
    ]);
    expect(await lists(t.gateway, t.keyA, user)).toEqual({ userEvents: 3, userMemories: 3, memories: 3 });

    const real = await forget(t.gateway, t.keyA, user);
    expect(real).toMatchObject({ userId: user, dryRun: false, status: 'COMPLETED', finishedAt: expect.any(String), signature: expect.any(String) });
    for (const part of real.parts) expect(part).toMatchObject({ status: 'COMPLETED', found: 3, deleted: 3, failed: 0, verifiedAbsent: true, error: null });
    expect(await lists(t.gateway, t.keyA, user)).toEqual({ userEvents: 0, userMemories: 0, memories: 0 });
    expect(await lists(t.gateway, t.keyA, other)).toEqual({ userEvents: 2, userMemories: 2, memories: 2 });
    // The same user id in another tenant is another user.
    expect(await lists(t.gateway, t.keyB, user)).toEqual({ userEvents: 2, userMemories: 2, memories: 2 });

    // One audit record per deleted item, as forgetUser, under the request that asked for it.
    const audit = dataOf(await t.gateway.execute<any>(AUDIT, { u: user }, { token: t.keyA })).deletionAudit.edges.map((e: any) => e.node);
    expect(audit).toHaveLength(9);
    expect(new Set(audit.map((r: any) => `${r.operation} ${r.outcome} ${r.backend}`))).toEqual(new Set(['forgetUser deleted LOCAL']));
    // The signed payload holds ids, times and counts, never memory content.
    expect(real.signedPayload).not.toMatch(/trip|window seat|peanuts/);
  });

  it('signs the final receipt: it verifies with the published key through the API and the CLI, and a tampered one fails', async () => {
    const user = randomUUID();
    await seedLocal(t.gateway, t.keyA, user, 1);
    const receipt = await forget(t.gateway, t.keyA, user);
    const key = dataOf(await t.gateway.execute<any>(KEY, {}, { token: t.keyA })).receiptSigningKey;
    expect(key.algorithm).toBe('Ed25519');
    expect(JSON.parse(receipt.signedPayload!)).toMatchObject({ keyId: key.keyId, receiptId: receipt.id, tenant: 'tenant-a', userId: user, status: 'COMPLETED' });
    // Every tenant sees the same gateway key.
    expect(dataOf(await t.gateway.execute<any>(KEY, {}, { token: t.keyB })).receiptSigningKey).toEqual(key);

    expect(verifyReceipt(receipt, key.publicKeyPem)).toMatchObject({ valid: true, receiptId: receipt.id });
    const statusEdited = { ...receipt, status: 'COMPLETED', parts: receipt.parts.map((p) => ({ ...p, deleted: p.deleted + 1 })) };
    expect(verifyReceipt(statusEdited, key.publicKeyPem)).toMatchObject({ valid: false, reason: expect.stringContaining('deleted') });
    const payloadEdited = { ...receipt, signedPayload: receipt.signedPayload!.replace('"status":"COMPLETED"', '"status":"PARTIAL"') };
    expect(verifyReceipt(payloadEdited, key.publicKeyPem)).toMatchObject({ valid: false, reason: expect.stringContaining('signature') });

    const databaseUrl = t.gateway.config.databaseUrl;
    const good = await verifyWithCli(databaseUrl, { data: { forgetUserReceipt: receipt } }, tmp);
    expect(good, good.stderr).toMatchObject({ code: 0 });
    expect(good.stdout.trim().split('\n')).toEqual([`valid: receipt ${receipt.id} (COMPLETED) for user "${user}" of tenant "tenant-a" is signed by key ${key.keyId}`]);
    const bad = await verifyWithCli(databaseUrl, statusEdited, tmp);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/receipt is NOT valid: part 1's deleted \(\d+\) differs from the signed \d+/)]);
    // With the key given as a file, as someone without the gateway's database checks it.
    const pem = join(tmp, 'key.pem');
    (await import('node:fs')).writeFileSync(pem, key.publicKeyPem);
    // A dry run is signed as well, and its verification says it deleted nothing.
    const dry = await forget(t.gateway, t.keyA, user, true);
    const offline = await verifyWithCli('file:/nonexistent/dir/none.db', dry, tmp, ['--public-key', pem]);
    expect(offline, offline.stderr).toMatchObject({ code: 0 });
    expect(offline.stdout.trim()).toBe(`valid: receipt ${dry.id} (COMPLETED, DRY RUN: nothing was deleted) for user "${user}" of tenant "tenant-a" is signed by key ${key.keyId}`);

    // Another gateway's key: the answer names both keys instead of calling the receipt edited.
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyReceipt(receipt, other)).toMatchObject({ valid: false, reason: expect.stringMatching(new RegExp(`names key ${key.keyId}, not this key \\(\\S+\\); verify it with that gateway's key`)) });
    expect(verifyReceipt(payloadEdited, key.publicKeyPem)).toMatchObject({ valid: false, reason: expect.stringContaining('changed after signing') });
  }, 90_000);

  it('a user id that is not a UUID has no user events: that part completes with nothing found', async () => {
    dataOf(await t.gateway.execute(`mutation { createMemory(input: { userId: "alice", memory: "m" }) { id } }`, {}, { token: t.keyA }));
    const receipt = await forget(t.gateway, t.keyA, 'alice');
    expect(receipt.status).toBe('COMPLETED');
    expect(partOf(receipt, 'USER_EVENTS')).toMatchObject({ status: 'COMPLETED', found: 0, verifiedAbsent: true });
    expect(partOf(receipt, 'MEMORIES')).toMatchObject({ found: 1, deleted: 1 });
  });

  it('end users forget only themselves, and see only their own receipts', async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    await seedLocal(t.gateway, t.keyA, alice, 1);
    await seedLocal(t.gateway, t.keyA, bob, 1);
    const asAlice = await signEndUserToken({ sub: alice, tenant: 'tenant-a' });
    const refused = errorOf(await t.gateway.execute(FORGET, { u: bob }, { token: asAlice }));
    expect(refused.extensions?.code).toBe('FORBIDDEN');
    expect(await lists(t.gateway, t.keyA, bob)).toEqual({ userEvents: 1, userMemories: 1, memories: 1 });

    const own = await forget(t.gateway, asAlice, alice);
    expect(own).toMatchObject({ status: 'COMPLETED', actor: `user:${alice}` });
    const bobs = await forget(t.gateway, t.keyA, bob);
    const read = (id: string) => t.gateway.execute<any>(`query($id: ID!) { forgetUserReceipt(id: $id) { id } }`, { id }, { token: asAlice });
    expect(dataOf(await read(own.id)).forgetUserReceipt).toEqual({ id: own.id });
    expect(dataOf(await read(bobs.id)).forgetUserReceipt).toBeNull();
    expect(errorOf(await t.gateway.execute(`{ forgetUserReceipts { edges { node { id } } } }`, {}, { token: asAlice })).extensions?.code).toBe('FORBIDDEN');

    // The tenant key lists both, newest first; per user on request.
    const all = dataOf(await t.gateway.execute<any>(`query($u: String) { forgetUserReceipts(userId: $u) { edges { node { id userId } } } }`, { u: alice }, { token: t.keyA }));
    expect(all.forgetUserReceipts.edges.map((e: any) => e.node.id)).toEqual([own.id]);
  });
});

describe('forgetUser on Memobase + Datagrid + Mielto', () => {
  let t: TwoTenants;
  beforeAll(async () => {
    t = await twoTenants(PROXIED);
  }, 60_000);
  afterAll(async () => t?.close());

  const seed = (who: 'a' | 'b', user: string, n: number) => {
    for (let i = 0; i < n; i++) {
      t.fakes.memobase.seedEvent(PROVIDER_KEYS[who].memobase, user, { eventTip: 'trip' });
      t.fakes.datagrid.seedMemory(PROVIDER_KEYS[who].datagrid, { memory: 'window seat', user_id: user, teamspace: PLACEMENT[who].teamspace });
      t.fakes.mielto.seedMemory(PROVIDER_KEYS[who].mielto, { user_id: user, memory: 'peanuts', workspaceId: PLACEMENT[who].workspace });
    }
  };

  it('a dry run counts at each provider and deletes nothing; the real run deletes the user everywhere and leaves other users and tenants alone', async () => {
    const user = randomUUID();
    const other = randomUUID();
    seed('a', user, 4);
    seed('a', other, 2);
    seed('b', user, 2);

    const dry = await forget(t.gateway, t.keyA, user, true);
    expect(dry.parts.map((p) => [p.family, p.backend, p.status, p.found, p.deleted])).toEqual([
      ['USER_EVENTS', 'MEMOBASE', 'COMPLETED', 4, 0],
      ['USER_MEMORIES', 'DATAGRID', 'COMPLETED', 4, 0],
      ['MEMORIES', 'MIELTO', 'COMPLETED', 4, 0],
    ]);
    expect(await lists(t.gateway, t.keyA, user)).toEqual({ userEvents: 4, userMemories: 4, memories: 4 });

    const before = t.fakes.mielto.requests.length;
    const real = await forget(t.gateway, t.keyA, user);
    expect(real.status).toBe('COMPLETED');
    for (const part of real.parts) {
      expect(part).toMatchObject({ status: 'COMPLETED', found: 4, deleted: 4, failed: 0, verifiedAbsent: true });
      expect(part.attempts).toBeGreaterThanOrEqual(5);
    }
    // Mielto deletes name the user (owner check), as the user's listing does.
    const mieltoDeletes = t.fakes.mielto.requests.slice(before).filter((r) => r.method === 'DELETE');
    expect(mieltoDeletes).toHaveLength(4);
    for (const r of mieltoDeletes) expect(r.query.get('user_id')).toBe(user);

    expect(await lists(t.gateway, t.keyA, user)).toEqual({ userEvents: 0, userMemories: 0, memories: 0 });
    expect(await lists(t.gateway, t.keyA, other)).toEqual({ userEvents: 2, userMemories: 2, memories: 2 });
    expect(await lists(t.gateway, t.keyB, user)).toEqual({ userEvents: 2, userMemories: 2, memories: 2 });

    const audit = dataOf(await t.gateway.execute<any>(AUDIT, { u: user }, { token: t.keyA })).deletionAudit.edges.map((e: any) => e.node);
    expect(audit.filter((r: any) => r.operation === 'forgetUser' && r.outcome === 'deleted')).toHaveLength(12);

    const key = dataOf(await t.gateway.execute<any>(KEY, {}, { token: t.keyA })).receiptSigningKey;
    expect(verifyReceipt(real, key.publicKeyPem).valid).toBe(true);
    const cli = await verifyWithCli(t.gateway.config.databaseUrl, real, tmp);
    expect(cli, cli.stderr).toMatchObject({ code: 0 });
  }, 60_000);

  it('answers RUNNING while work remains, and a second forget of the user while it runs returns that receipt', async () => {
    const user = randomUUID();
    seed('a', user, 12);
    t.fakes.mielto.slow({ times: 12, delayMs: 1500, match: /^DELETE / });
    const first = dataOf(await t.gateway.execute<any>(FORGET, { u: user }, { token: t.keyA })).forgetUser as Receipt;
    expect(first.status).toBe('RUNNING');
    expect(first.signature).toBeNull();
    const second = dataOf(await t.gateway.execute<any>(FORGET, { u: user }, { token: t.keyA })).forgetUser as Receipt;
    expect(second.id).toBe(first.id);
    const done = await finalReceipt(through(t.gateway, t.keyA), first.id);
    expect(done.status).toBe('COMPLETED');
    expect(partOf(done, 'MEMORIES')).toMatchObject({ found: 12, deleted: 12 });
    // Once finished, the user can be forgotten again (a new receipt).
    const again = await forget(t.gateway, t.keyA, user);
    expect(again.id).not.toBe(first.id);
    expect(again.parts.every((p) => p.found === 0)).toBe(true);
  }, 60_000);

  it('a persistent upstream failure ends PARTIAL, with the error on the failing part and the rest done', async () => {
    const user = randomUUID();
    seed('a', user, 3);
    t.fakes.mielto.serverError({ times: 1000, status: 500, match: /^DELETE / });
    try {
      const receipt = await forget(t.gateway, t.keyA, user);
      expect(receipt.status).toBe('PARTIAL');
      expect(partOf(receipt, 'MEMORIES')).toMatchObject({ status: 'FAILED', found: 3, deleted: 0, failed: 3, verifiedAbsent: false });
      expect(partOf(receipt, 'MEMORIES').error).toMatch(/mielto answered HTTP 500/);
      expect(partOf(receipt, 'USER_EVENTS')).toMatchObject({ status: 'COMPLETED', deleted: 3 });
      expect(partOf(receipt, 'USER_MEMORIES')).toMatchObject({ status: 'COMPLETED', deleted: 3 });
      expect(receipt.signature).toEqual(expect.any(String));
      const key = dataOf(await t.gateway.execute<any>(KEY, {}, { token: t.keyA })).receiptSigningKey;
      expect(verifyReceipt(receipt, key.publicKeyPem)).toMatchObject({ valid: true, status: 'PARTIAL' });
      // What failed was not deleted: the data is as it was.
      t.fakes.mielto.resetFaults();
      const left = dataOf(await t.gateway.execute<any>(`query($u: String) { memories(userId: $u) { edges { node { id } } } }`, { u: user }, { token: t.keyA }));
      expect(left.memories.edges).toHaveLength(3);
    } finally {
      t.fakes.mielto.resetFaults();
    }
  }, 60_000);
});

describe('forgetUser paced under Datagrid’s rate limit', () => {
  it('deletes more items than one window allows without a single 429, reading X-RateLimit-*', async () => {
    const fakes = await startProviderFakes({ datagrid: { rateLimitPolicy: { limit: 10, windowSeconds: 2 } } });
    const t = await twoTenants({ userEvents: 'local', userMemories: 'datagrid', memories: 'local' }, { fakes });
    try {
      const user = randomUUID();
      for (let i = 0; i < 25; i++) fakes.datagrid.seedMemory(PROVIDER_KEYS.a.datagrid, { memory: 'm', user_id: user, teamspace: PLACEMENT.a.teamspace });
      const before = fakes.datagrid.requests.length;
      const receipt = await forget(t.gateway, t.keyA, user);
      expect(partOf(receipt, 'USER_MEMORIES')).toMatchObject({ status: 'COMPLETED', found: 25, deleted: 25, verifiedAbsent: true });
      const sent = fakes.datagrid.requests.slice(before);
      // The 429s first: a DELETE refused and retried would also make the count below wrong.
      expect(sent.filter((r) => r.status === 429)).toEqual([]);
      expect(sent.filter((r) => r.method === 'DELETE')).toHaveLength(25);
      expect(partOf(receipt, 'USER_MEMORIES').attempts).toBe(sent.length);
    } finally {
      await t.close();
      await Promise.all(Object.values(fakes).map((f) => f.close()));
    }
  }, 90_000);
});

describe('forgetUser on Cortex', () => {
  let t: TwoTenants;
  beforeAll(async () => {
    t = await twoTenants(CORTEX);
  }, 60_000);
  afterAll(async () => t?.close());

  it("deletes the user's sub-tenant memories and nothing in other sub-tenants or tenants", async () => {
    const user = randomUUID();
    const other = randomUUID();
    for (let i = 0; i < 3; i++) t.fakes.cortex.seedMemory(PROVIDER_KEYS.a.cortex, { tenantId: PLACEMENT.a.cortexTenant, subTenantId: user, content: 'm' });
    t.fakes.cortex.seedMemory(PROVIDER_KEYS.a.cortex, { tenantId: PLACEMENT.a.cortexTenant, subTenantId: other, content: 'm' });
    t.fakes.cortex.seedMemory(PROVIDER_KEYS.b.cortex, { tenantId: PLACEMENT.b.cortexTenant, subTenantId: user, content: 'm' });

    const dry = await forget(t.gateway, t.keyA, user, true);
    expect(partOf(dry, 'USER_MEMORIES')).toMatchObject({ backend: 'CORTEX', found: 3, deleted: 0 });
    const real = await forget(t.gateway, t.keyA, user);
    expect(real.status).toBe('COMPLETED');
    expect(partOf(real, 'USER_MEMORIES')).toMatchObject({ backend: 'CORTEX', status: 'COMPLETED', found: 3, deleted: 3, verifiedAbsent: true });
    const remaining = async (token: string, s: string) => dataOf(await t.gateway.execute<any>(CORTEX_LIST, { s }, { token })).userMemories.edges.length;
    expect(await remaining(t.keyA, user)).toBe(0);
    expect(await remaining(t.keyA, other)).toBe(1);
    expect(await remaining(t.keyB, user)).toBe(1);
  });
});

describe.each(STORES)('forgetUser with two instances on one database (%s)', (store) => {
  it('exactly one instance runs a job: the other sees it leased and sends none of its deletes', async () => {
    const fake = await startMieltoFake({ apiKeys: ['mielto-shared'] });
    const gateway = await startGateway({ MEMORIES_BACKEND: 'mielto', MIELTO_URL: fake.url, MIELTO_API_KEY: 'mielto-shared', FORGET_LEASE_MS: '900' }, { store });
    // A second instance of the gateway on the same store, looking for jobs to take over every 100 ms.
    const second = await createApp(gateway.config, createLogger({ logLevel: 'silent' }), { forget: { pollMs: 100 } });
    try {
      const token = await gateway.createKey('acme');
      const user = randomUUID();
      for (let i = 0; i < 40; i++) fake.seedMemory('mielto-shared', { user_id: user, memory: 'm' });
      // Slow deletes keep the job running over several leases, while the second instance polls.
      fake.slow({ times: 1000, delayMs: 400, match: /^DELETE / });
      const first = dataOf(await gateway.execute<any>(FORGET, { u: user }, { token })).forgetUser;
      const owners = new Set<string | null>();
      let receipt: Receipt | undefined;
      while (!receipt) {
        const job = await second.prisma.forgetJob.findUniqueOrThrow({ where: { id: first.id } });
        if (job.status === 'RUNNING') owners.add(job.leaseOwner);
        else receipt = await finalReceipt(through(gateway, token), first.id);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(receipt.status).toBe('COMPLETED');
      expect(partOf(receipt, 'MEMORIES')).toMatchObject({ found: 40, deleted: 40 });
      expect(owners.size).toBe(1);
      const deletes = fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
      expect(deletes).toHaveLength(40);
      expect(new Set(deletes).size).toBe(40);
    } finally {
      await second.close();
      await gateway.close();
      await fake.close();
    }
  }, 60_000);
});

describe('forgetUser and the per-request upstream budget', () => {
  it('a forget job is not a request: MAX_UPSTREAM_CALLS_PER_REQUEST does not cut it short (and another tenant forgets nothing there)', async () => {
    const fake = await startMieltoFake({ apiKeys: ['mielto-budget'] });
    const gateway = await startGateway({ MEMORIES_BACKEND: 'mielto', MIELTO_URL: fake.url, MIELTO_API_KEY: 'mielto-budget', MAX_UPSTREAM_CALLS_PER_REQUEST: '5' });
    try {
      const token = await gateway.createKey('acme');
      const user = randomUUID();
      for (let i = 0; i < 30; i++) fake.seedMemory('mielto-budget', { user_id: user, memory: 'm' });
      // A request cannot delete them all: 30 ids need at least 30 calls.
      const ids = dataOf(await gateway.execute<any>(`query($u: String) { memories(userId: $u, first: 100) { edges { node { id } } } }`, { u: user }, { token })).memories.edges.map((e: any) => e.node.id);
      const bulk = dataOf(await gateway.execute<any>(`mutation($ids: [ID!]!, $u: String) { deleteMemories(memoryIds: $ids, userId: $u) { deletedCount results { code } } }`, { ids, u: user }, { token }));
      const left = 30 - bulk.deleteMemories.deletedCount;
      expect(left).toBeGreaterThanOrEqual(25);
      expect(new Set(bulk.deleteMemories.results.filter((r: any) => r.code !== null).map((r: any) => r.code))).toEqual(new Set(['BAD_USER_INPUT']));

      // Another tenant of the gateway on the same environment credentials: the scope is acme's.
      const intruder = await forget(gateway, await gateway.createKey('intruder'), user);
      expect(partOf(intruder, 'MEMORIES')).toMatchObject({ status: 'FAILED', found: 0, deleted: 0, error: expect.stringContaining('another tenant') });
      expect(fake.requests.filter((r) => r.method === 'DELETE' && (r.status ?? 500) < 300)).toHaveLength(30 - left);

      const receipt = await forget(gateway, token, user);
      expect(receipt.status).toBe('COMPLETED');
      expect(partOf(receipt, 'MEMORIES')).toMatchObject({ found: left, deleted: left, failed: 0, verifiedAbsent: true });
    } finally {
      await gateway.close();
      await fake.close();
    }
  }, 60_000);
});
