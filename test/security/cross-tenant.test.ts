import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTenant, type TenantChanges } from '../../src/tenants.js';
import { TEST_GATEWAY_SECRET } from '../contract/provider-harness.js';
import { startCortexFake, type CortexFake } from '../fakes/cortex.js';
import { startDatagridFake, type DatagridFake } from '../fakes/datagrid.js';
import { startMemobaseFake, type MemobaseFake } from '../fakes/memobase.js';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { dataOf, startGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { signEndUserToken, TEST_JWT_SECRET } from '../helpers/jwt.js';

/**
 * Tenant B — with its API key, and as its end users — tries every operation of every family,
 * with every scope argument an attacker can send, against tenant A's data: on the local store and
 * on each provider's fake, with separate credentials, with one credential and separate
 * partitions, and with A on the environment's credentials. Never a byte of A's data reaches B,
 * and nothing of A's changes.
 */

const KEYS = {
  env: { memobase: 'memobase-env-key', datagrid: 'datagrid-env-key', cortex: 'cortex-env-key', mielto: 'mielto-env-key' },
  a: { memobase: 'memobase-key-a', datagrid: 'datagrid-key-a', cortex: 'cortex-key-a', mielto: 'mielto-key-a' },
  b: { memobase: 'memobase-key-b', datagrid: 'datagrid-key-b', cortex: 'cortex-key-b', mielto: 'mielto-key-b' },
} as const;
const all = (p: keyof (typeof KEYS)['env']) => [KEYS.env[p], KEYS.a[p], KEYS.b[p]];

interface Fakes {
  memobase: MemobaseFake;
  datagrid: DatagridFake;
  cortex: CortexFake;
  mielto: MieltoFake;
}

/** Where tenant A's data lives at each provider, as the fakes partition it. */
interface Placement {
  memobaseKey: string;
  datagrid: { key: string; teamspace?: string };
  cortex: { key: string; tenantId: string };
  mielto: { key: string; workspaceId?: string };
}

type Routing = Pick<TenantChanges, 'userEvents' | 'userMemories' | 'memories'>;
const PROXIED: Routing = { userEvents: 'memobase', userMemories: 'datagrid', memories: 'mielto' };
const CORTEX: Routing = { userEvents: 'local', userMemories: 'cortex', memories: 'local' };
const LOCAL: Routing = { userEvents: 'local', userMemories: 'local', memories: 'local' };

interface Scenario {
  name: string;
  routing: Routing;
  /** Environment beyond the fakes' URLs. */
  env?: (f: Fakes) => Record<string, string>;
  settingsA: (f: Fakes) => Record<string, string>;
  settingsB: (f: Fakes) => Record<string, string>;
  placementA?: Placement;
  /** B is refused at the provider scope it would share with A. */
  bRefused?: boolean;
}

const own = (f: Fakes, who: 'a' | 'b') => ({
  'memobase.url': f.memobase.url,
  'memobase.apiKey': KEYS[who].memobase,
  'datagrid.url': f.datagrid.url,
  'datagrid.apiKey': KEYS[who].datagrid,
  'datagrid.teamspace': `ts-${who}`,
  'cortex.url': f.cortex.url,
  'cortex.apiKey': KEYS[who].cortex,
  'cortex.tenantId': `ct-${who}`,
  'mielto.url': f.mielto.url,
  'mielto.apiKey': KEYS[who].mielto,
  'mielto.workspaceId': `ws-${who}`,
});

/** The environment's credentials; partitions per tenant (Memobase has none: its own keys). */
const partitions = (f: Fakes, who: 'a' | 'b') => ({
  'memobase.url': f.memobase.url,
  'memobase.apiKey': KEYS[who].memobase,
  'datagrid.teamspace': `ts-${who}`,
  'cortex.tenantId': `ct-${who}`,
  'mielto.workspaceId': `ws-${who}`,
});

const envCredentials = (f: Fakes) => ({
  MEMOBASE_URL: f.memobase.url,
  MEMOBASE_API_KEY: KEYS.env.memobase,
  DATAGRID_URL: f.datagrid.url,
  DATAGRID_API_KEY: KEYS.env.datagrid,
  CORTEX_URL: f.cortex.url,
  CORTEX_API_KEY: KEYS.env.cortex,
  MIELTO_URL: f.mielto.url,
  MIELTO_API_KEY: KEYS.env.mielto,
});

const ownPlacement: Placement = {
  memobaseKey: KEYS.a.memobase,
  datagrid: { key: KEYS.a.datagrid, teamspace: 'ts-a' },
  cortex: { key: KEYS.a.cortex, tenantId: 'ct-a' },
  mielto: { key: KEYS.a.mielto, workspaceId: 'ws-a' },
};
const partitionPlacement: Placement = {
  memobaseKey: KEYS.a.memobase,
  datagrid: { key: KEYS.env.datagrid, teamspace: 'ts-a' },
  cortex: { key: KEYS.env.cortex, tenantId: 'ct-a' },
  mielto: { key: KEYS.env.mielto, workspaceId: 'ws-a' },
};
const envPlacement: Placement = {
  memobaseKey: KEYS.env.memobase,
  datagrid: { key: KEYS.env.datagrid, teamspace: 'ts-env' },
  cortex: { key: KEYS.env.cortex, tenantId: 'ct-env' },
  mielto: { key: KEYS.env.mielto, workspaceId: 'ws-env' },
};
const envPartitions = { DATAGRID_TEAMSPACE: 'ts-env', CORTEX_TENANT_ID: 'ct-env', MIELTO_WORKSPACE_ID: 'ws-env' };

const SCENARIOS: Scenario[] = [
  { name: 'local store', routing: LOCAL, settingsA: () => ({}), settingsB: () => ({}) },
  { name: 'Memobase + Datagrid + Mielto, separate credentials', routing: PROXIED, settingsA: (f) => own(f, 'a'), settingsB: (f) => own(f, 'b'), placementA: ownPlacement },
  { name: 'Cortex, separate credentials', routing: CORTEX, settingsA: (f) => own(f, 'a'), settingsB: (f) => own(f, 'b'), placementA: ownPlacement },
  {
    name: 'Memobase + Datagrid + Mielto, one credential with a partition per tenant',
    routing: PROXIED,
    env: envCredentials,
    settingsA: (f) => partitions(f, 'a'),
    settingsB: (f) => partitions(f, 'b'),
    placementA: partitionPlacement,
  },
  {
    name: 'Cortex, one credential with a Cortex tenant per tenant',
    routing: CORTEX,
    env: envCredentials,
    settingsA: (f) => partitions(f, 'a'),
    settingsB: (f) => partitions(f, 'b'),
    placementA: partitionPlacement,
  },
  {
    name: 'Memobase + Datagrid + Mielto, A on the environment credentials, B without settings',
    routing: PROXIED,
    env: (f) => ({ ...envCredentials(f), ...envPartitions }),
    settingsA: () => ({}),
    settingsB: () => ({}),
    placementA: envPlacement,
    bRefused: true,
  },
  {
    name: 'Cortex, A on the environment credentials, B without settings',
    routing: CORTEX,
    env: (f) => ({ ...envCredentials(f), ...envPartitions }),
    settingsA: () => ({}),
    settingsB: () => ({}),
    placementA: envPlacement,
    bRefused: true,
  },
];

const SNAPSHOT = /* GraphQL */ `
  query Snapshot($u: ID!, $s: String) {
    userEvents(userId: $u, first: 100) { edges { node { id eventTip } } }
    userMemoriesOfUser: userMemories(userId: $s, first: 100) { edges { node { id content } } }
    userMemoriesInSubTenant: userMemories(subTenantId: $s, first: 100) { edges { node { id content } } }
    userMemories(first: 100) { edges { node { id content } } }
    memoriesOfUser: memories(userId: $s, first: 100) { edges { node { id memory } } }
    memories(first: 100) { edges { node { id memory } } }
    deletionAudit(first: 100) { edges { node { id targetId outcome } } }
  }
`;

const ENTITIES = /* GraphQL */ `
  query Entities($r: [_Any!]!) {
    _entities(representations: $r) {
      ... on User { id events(first: 100) { edges { node { id eventTip } } } userMemories(first: 100) { edges { node { id content } } } memories(first: 100) { edges { node { id memory } } } }
    }
  }
`;

interface Attack {
  name: string;
  query: string;
  variables: Record<string, unknown>;
}

/** Everything B can send that names A's user, A's ids or A's partitions. */
function attacks(user: string, ids: { event?: string; userMemories: string[]; memories: string[] }): Attack[] {
  const list: Attack[] = [
    { name: 'userEvents of the user', query: `query($u: ID!) { userEvents(userId: $u, first: 100) { edges { node { id eventTip } } } }`, variables: { u: user } },
    { name: 'userMemories', query: `{ userMemories(first: 100) { edges { node { id content } } } }`, variables: {} },
    { name: 'userMemories of the user', query: `query($u: String) { userMemories(userId: $u, first: 100) { edges { node { id content } } } }`, variables: { u: user } },
    { name: 'memories', query: `{ memories(first: 100) { edges { node { id memory } } } }`, variables: {} },
    { name: 'memories of the user', query: `query($u: String) { memories(userId: $u, first: 100) { edges { node { id memory } } } }`, variables: { u: user } },
    { name: 'deletionAudit', query: `{ deletionAudit(first: 100) { edges { node { id targetId outcome userId } } } }`, variables: {} },
    { name: 'deletionAudit of the user', query: `query($u: String) { deletionAudit(userId: $u) { edges { node { id targetId } } } }`, variables: { u: user } },
    { name: '_entities for the user', query: ENTITIES, variables: { r: [{ __typename: 'User', id: user }] } },
    { name: 'createMemory in A\'s workspace', query: `mutation($u: String!) { createMemory(input: { userId: $u, memory: "planted by B" }, workspaceId: "ws-a") { id } }`, variables: { u: user } },
    { name: 'addUserMemory in the user\'s sub-tenant', query: `mutation($u: String) { addUserMemory(input: { content: "planted by B", userId: $u, subTenantId: $u, agentId: "agent" }) { id } }`, variables: { u: user } },
  ];
  for (const workspaceId of ['ws-a', 'ws-b', 'ws-env', 'ws-a\r\nx-workspace-id: ws-a', '']) {
    list.push({ name: `memories in workspace ${JSON.stringify(workspaceId)}`, query: `query($w: String, $u: String) { memories(workspaceId: $w, userId: $u, first: 100) { edges { node { id memory } } } }`, variables: { w: workspaceId, u: user } });
  }
  for (const subTenantId of [user, 'ct-a', 'default']) {
    list.push({ name: `userMemories in sub-tenant ${subTenantId}`, query: `query($s: String) { userMemories(subTenantId: $s, first: 100) { edges { node { id content } } } }`, variables: { s: subTenantId } });
  }
  if (ids.event) {
    list.push({ name: 'deleteUserEvent', query: `mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`, variables: { u: user, e: ids.event } });
  }
  for (const id of ids.userMemories) {
    list.push({ name: 'deleteUserMemory', query: `mutation($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`, variables: { id } });
    list.push({ name: 'deleteUserMemory in the user\'s sub-tenant', query: `mutation($id: ID!, $s: String) { deleteUserMemory(userMemoryId: $id, subTenantId: $s) { deleted } }`, variables: { id, s: user } });
    list.push({ name: 'deleteUserMemory in ct-a', query: `mutation($id: ID!) { deleteUserMemory(userMemoryId: $id, subTenantId: "ct-a") { deleted } }`, variables: { id } });
  }
  for (const id of ids.memories) {
    list.push({ name: 'deleteMemory', query: `mutation($id: ID!) { deleteMemory(memoryId: $id) { message } }`, variables: { id } });
    list.push({ name: 'deleteMemory of the user', query: `mutation($id: ID!, $u: String) { deleteMemory(memoryId: $id, userId: $u) { message } }`, variables: { id, u: user } });
    for (const w of ['ws-a', 'ws-env']) {
      list.push({ name: `deleteMemory in ${w}`, query: `mutation($id: ID!, $u: String, $w: String) { deleteMemory(memoryId: $id, userId: $u, workspaceId: $w) { message } }`, variables: { id, u: user, w } });
    }
  }
  return list;
}

const DELETE_FIELDS = ['deleteUserEvent', 'deleteUserMemory', 'deleteMemory'];

describe.each(SCENARIOS)('cross-tenant: $name', (scenario) => {
  let fakes: Fakes;
  let gateway: TestGateway;
  let tokenA: string;
  let tokenB: string;
  let endUserB: string;
  const user = randomUUID();
  const marker = `A-ONLY-${randomUUID()}`;
  let before: any;
  const responses: { attack: string; as: string; res: GraphQLResponse }[] = [];

  beforeAll(async () => {
    fakes = {
      memobase: await startMemobaseFake({ apiKeys: all('memobase') }),
      datagrid: await startDatagridFake({ apiKeys: all('datagrid') }),
      cortex: await startCortexFake({ apiKeys: all('cortex') }),
      mielto: await startMieltoFake({ apiKeys: all('mielto') }),
    };
    gateway = await startGateway({ GATEWAY_SECRET: TEST_GATEWAY_SECRET, JWT_SECRET: TEST_JWT_SECRET, ...scenario.env?.(fakes) });
    await setTenant(gateway.app.prisma, gateway.config, 'tenant-a', { ...scenario.routing, settings: scenario.settingsA(fakes) });
    await setTenant(gateway.app.prisma, gateway.config, 'tenant-b', { ...scenario.routing, settings: scenario.settingsB(fakes) });
    tokenA = await gateway.createKey('tenant-a');
    tokenB = await gateway.createKey('tenant-b');
    // B's end user carries the same user id as A's user: ids are only unique within a tenant.
    endUserB = await signEndUserToken({ sub: user, tenant: 'tenant-b' });

    // A's data, in A's scope: through the gateway where the backend takes creates, else at the provider.
    const local = scenario.routing.userEvents === 'local';
    const created = dataOf(
      await gateway.execute<any>(
        `mutation(${local ? '$u: ID!, ' : ''}$s: String!, $m: String!) {
          ${local ? 'e: createUserEvent(userId: $u, input: { eventTip: $m }) { id }' : ''}
          ${scenario.routing.userMemories === 'cortex' ? '' : 'um: addUserMemory(input: { content: $m, userId: $s, agentId: "agent" }) { id }'}
          m: createMemory(input: { userId: $s, memory: $m }) { id }
        }`,
        { ...(local && { u: user }), s: user, m: marker },
        { token: tokenA },
      ),
    );
    expect(created.m.id).toEqual(expect.any(String));
    const p = scenario.placementA;
    if (p && scenario.routing.userEvents === 'memobase') fakes.memobase.seedEvent(p.memobaseKey, user, { eventTip: marker });
    if (p && scenario.routing.userMemories === 'cortex') {
      fakes.cortex.seedMemory(p.cortex.key, { tenantId: p.cortex.tenantId, subTenantId: user, content: marker });
      fakes.cortex.seedMemory(p.cortex.key, { tenantId: p.cortex.tenantId, content: `${marker} (default sub-tenant)` });
    }
    if (p && scenario.routing.userMemories === 'datagrid') {
      fakes.datagrid.seedMemory(p.datagrid.key, { memory: `${marker} (seeded)`, user_id: user, teamspace: p.datagrid.teamspace });
    }

    before = dataOf(await gateway.execute(SNAPSHOT, { u: user, s: user }, { token: tokenA }));
    // A sees its own data, so the checks below are about something that is there.
    expect(JSON.stringify(before)).toContain(marker);
    expect(before.memories.edges.length).toBeGreaterThan(0);
    expect(before.userMemories.edges.length + before.userMemoriesInSubTenant.edges.length).toBeGreaterThan(0);

    const ids = {
      event: before.userEvents.edges[0]?.node.id as string | undefined,
      userMemories: [...new Set([...before.userMemories.edges, ...before.userMemoriesInSubTenant.edges].map((e: any) => e.node.id as string))],
      memories: before.memories.edges.map((e: any) => e.node.id as string),
    };
    for (const [as, token] of [['B key', tokenB], ['B end user', endUserB]] as const) {
      for (const attack of attacks(user, ids)) {
        responses.push({ attack: attack.name, as, res: await gateway.execute(attack.query, attack.variables, { token }) });
      }
    }
  }, 120_000);

  afterAll(async () => {
    await gateway?.close();
    await Promise.all(Object.values(fakes ?? {}).map((f) => f.close()));
  });

  it("never shows B a byte of A's data", () => {
    expect(responses.length).toBeGreaterThan(20);
    for (const { attack, as, res } of responses) {
      expect(JSON.stringify(res.body), `${as}: ${attack}`).not.toContain(marker);
      expect(JSON.stringify(res.body), `${as}: ${attack}`).not.toContain('A-ONLY');
      expect(res.status, `${as}: ${attack}`).toBeLessThan(500);
    }
  });

  it("never deletes A's items: every delete B sends is refused", () => {
    const deletes = responses.filter(({ res }) => DELETE_FIELDS.some((f) => res.body.data?.[f] != null) || res.body.errors?.some((e) => DELETE_FIELDS.includes(String(e.path?.[0]))));
    const sent = responses.filter(({ attack }) => attack.startsWith('delete') && !attack.startsWith('deletionAudit'));
    expect(sent.length).toBeGreaterThan(3);
    expect(deletes).toHaveLength(sent.length);
    for (const { attack, as, res } of sent) {
      const code = res.body.errors?.[0]?.extensions?.code;
      const allowed = scenario.bRefused ? ['NOT_FOUND', 'FORBIDDEN', 'UPSTREAM_UNAVAILABLE'] : ['NOT_FOUND', 'FORBIDDEN'];
      expect(allowed, `${as}: ${attack} answered ${JSON.stringify(res.body)}`).toContain(code);
    }
  });

  it('refuses scope arguments outside B\'s own: another workspace and another user\'s sub-tenant are FORBIDDEN, control characters BAD_USER_INPUT', () => {
    const codeOf = (attack: string, as: string) => responses.find((r) => r.attack === attack && r.as === as)?.res.body.errors?.[0]?.extensions?.code;
    for (const as of ['B key', 'B end user']) {
      expect(codeOf('memories in workspace "ws-a\\r\\nx-workspace-id: ws-a"', as)).toBe('BAD_USER_INPUT');
      if (scenario.routing.memories === 'mielto' && !scenario.bRefused) {
        expect(codeOf('memories in workspace "ws-a"', as)).toBe('FORBIDDEN');
        expect(codeOf("createMemory in A's workspace", as)).toBe('FORBIDDEN');
      }
    }
    expect(codeOf('userMemories in sub-tenant ct-a', 'B end user')).toBe('FORBIDDEN');
  });

  it("leaves A's data, counts and audit exactly as they were", async () => {
    const after = dataOf(await gateway.execute(SNAPSHOT, { u: user, s: user }, { token: tokenA }));
    expect(after).toEqual(before);
  });

  if (scenario.bRefused) {
    it('tells B how to get its own scope instead of sharing A\'s', () => {
      const refused = responses.filter(({ res }) => res.body.errors?.some((e) => e.extensions?.code === 'UPSTREAM_UNAVAILABLE'));
      expect(refused.length).toBeGreaterThan(0);
      for (const { res } of refused) {
        const message = res.body.errors!.find((e) => e.extensions?.code === 'UPSTREAM_UNAVAILABLE')!.message;
        expect(message).toMatch(/another tenant of this gateway already uses.*npx memory-gateway tenants set tenant-b/);
        // Nothing about A's scope: no partition, no URL.
        expect(message).not.toMatch(/ts-env|ct-env|ws-env|127\.0\.0\.1|tenant-a/);
      }
    });
  }
});
