import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTenant, type TenantChanges } from '../../src/tenants.js';
import { startGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { TEST_GATEWAY_SECRET } from './provider-harness.js';

/**
 * Every proxied operation checked against the providers' OpenAPI specs (copies of
 * ../shared/upstreams/*.yaml in test/upstreams/specs/) served by Stoplight Prism with `--errors`:
 * a request that breaks a spec (path, query, header, body, auth) gets Prism's 4xx, which the
 * gateway reports as UPSTREAM_ERROR, so the operation below fails. Prism answers with the specs'
 * first examples, so these tests check the requests and that the examples map, not the data.
 */

const PRISM = fileURLToPath(new URL('../../node_modules/@stoplight/prism-cli/dist/index.js', import.meta.url));
const spec = (name: string) => fileURLToPath(new URL(`../upstreams/specs/${name}.yaml`, import.meta.url));

interface Mock {
  url: string;
  child: ChildProcess;
  /** Prism's recent log lines: its request-violation reports explain a failure. */
  output: string[];
}

async function startPrism(name: string): Promise<Mock> {
  const port = await freePort();
  const child = spawn(process.execPath, [PRISM, 'mock', '-h', '127.0.0.1', '-p', String(port), '--errors', spec(name)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const record = (chunk: Buffer) => {
    // eslint-disable-next-line no-control-regex
    output.push(...String(chunk).replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - 40));
  };
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`Prism (${name}) did not start within 30 s:\n${output.join('\n')}`)), 30_000);
    const onData = () => output.some((line) => line.includes('Prism is listening')) && done();
    const onExit = (code: number | null) => fail(new Error(`Prism (${name}) exited with ${code}:\n${output.join('\n')}`));
    const done = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve();
    };
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill();
      reject(error);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
  return { url: `http://127.0.0.1:${port}`, child, output };
}

async function stopPrism(mock: Mock): Promise<void> {
  if (mock.child.exitCode !== null || mock.child.signalCode !== null) return;
  const exited = new Promise((resolve) => mock.child.once('exit', resolve));
  mock.child.kill('SIGTERM');
  await exited;
}

const PROVIDERS = ['memobase', 'datagrid', 'cortex', 'mielto'] as const;
type Provider = (typeof PROVIDERS)[number];

describe('proxied operations against Prism mocks of the upstream specs', () => {
  const mocks = {} as Record<Provider, Mock>;
  let gateway: TestGateway;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    const started = await Promise.allSettled(PROVIDERS.map((p) => startPrism(p)));
    started.forEach((result, i) => {
      if (result.status === 'fulfilled') mocks[PROVIDERS[i]!] = result.value;
    });
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    // No retries: a refused request should show as the one request Prism judged.
    gateway = await startGateway({ GATEWAY_SECRET: TEST_GATEWAY_SECRET, UPSTREAM_MAX_RETRIES: '0', UPSTREAM_TIMEOUT_MS: '5000' });
    const tenants: Record<string, TenantChanges> = {
      memobase: { userEvents: 'memobase', settings: { 'memobase.url': mocks.memobase.url, 'memobase.apiKey': 'prism-memobase-token' } },
      datagrid: {
        userMemories: 'datagrid',
        settings: { 'datagrid.url': mocks.datagrid.url, 'datagrid.apiKey': 'prism-datagrid-key', 'datagrid.teamspace': 'teamspace_1' },
      },
      'cortex-docs': {
        userMemories: 'cortex',
        settings: { 'cortex.url': mocks.cortex.url, 'cortex.apiKey': 'prism-cortex-key', 'cortex.tenantId': 'tenant_1234', 'cortex.paths': 'user_memory' },
      },
      'cortex-v2': {
        userMemories: 'cortex',
        settings: { 'cortex.url': mocks.cortex.url, 'cortex.apiKey': 'prism-cortex-key', 'cortex.tenantId': 'tenant_5678', 'cortex.paths': 'memories' },
      },
      mielto: { memories: 'mielto', settings: { 'mielto.url': mocks.mielto.url, 'mielto.apiKey': 'prism-mielto-key', 'mielto.workspaceId': 'ws_1', 'mielto.workspaces': 'ws_2' } },
    };
    for (const [id, changes] of Object.entries(tenants)) {
      await setTenant(gateway.app.prisma, gateway.config, id, changes);
      tokens[id] = await gateway.createKey(id);
    }
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await Promise.all(Object.values(mocks).map(stopPrism));
  });

  /** Runs an operation as `tenant`; fails with the gateway's errors and Prism's log when it did not succeed. */
  const run = async (tenant: string, provider: Provider, query: string, variables: Record<string, unknown> = {}) => {
    const res: GraphQLResponse = await gateway.execute(query, variables, { token: tokens[tenant] });
    if (res.body.errors?.length || !res.body.data) {
      expect.fail(
        `${tenant}: ${query.trim().split('\n')[0]} failed:\n${JSON.stringify(res.body.errors, null, 2)}\n\nPrism (${provider}) log:\n${mocks[provider].output.join('\n')}`,
      );
    }
    return res.body.data!;
  };
  const notSupported = async (tenant: string, query: string, variables: Record<string, unknown>) => {
    const res = await gateway.execute(query, variables, { token: tokens[tenant] });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('NOT_SUPPORTED');
  };

  it('memobase: list and delete user events', async () => {
    const userId = randomUUID();
    const list = await run(
      'memobase',
      'memobase',
      `query ($u: ID!) { userEvents(userId: $u, first: 5) { edges { node { id backend } } pageInfo { hasNextPage endCursor } } }`,
      { u: userId },
    );
    expect(list.userEvents.edges.length).toBeGreaterThan(0);
    expect(list.userEvents.edges[0].node.backend).toBe('MEMOBASE');
    const deleted = await run('memobase', 'memobase', `mutation ($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`, {
      u: userId,
      e: randomUUID(),
    });
    expect(deleted.deleteUserEvent.deleted).toBe(true);
    await notSupported('memobase', `mutation ($u: ID!) { createUserEvent(userId: $u, input: { eventTip: "x" }) { id } }`, { u: userId });
  });

  it('datagrid: list (two pages), add and delete user memories', async () => {
    const list = `query ($after: String) { userMemories(first: 1, after: $after) { edges { node { id backend } } pageInfo { hasNextPage endCursor } } }`;
    const first = await run('datagrid', 'datagrid', list);
    expect(first.userMemories.edges[0].node.backend).toBe('DATAGRID');
    if (first.userMemories.pageInfo.hasNextPage) await run('datagrid', 'datagrid', list, { after: first.userMemories.pageInfo.endCursor });
    const added = await run('datagrid', 'datagrid', `mutation ($i: AddUserMemoryInput!) { addUserMemory(input: $i) { id backend } }`, {
      i: { content: 'Prefers dark mode', agentId: 'agent_1', userPrompt: 'remember my theme', context: ['settings'] },
    });
    expect(added.addUserMemory.backend).toBe('DATAGRID');
    const deleted = await run('datagrid', 'datagrid', `mutation ($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`, { id: 'um_1' });
    expect(deleted.deleteUserMemory.deleted).toBe(true);
  });

  it.each(['cortex-docs', 'cortex-v2'])('cortex (%s paths): list and delete user memories', async (tenant) => {
    const list = await run(
      tenant,
      'cortex',
      `query { userMemories(first: 5) { edges { node { id backend } } pageInfo { hasNextPage endCursor } } }`,
    );
    expect(list.userMemories.edges[0].node.backend).toBe('CORTEX');
    await run(tenant, 'cortex', `query { userMemories(first: 5, subTenantId: "sub_tenant_4567") { edges { node { id } } } }`);
    const deleted = await run(tenant, 'cortex', `mutation ($id: ID!) { deleteUserMemory(userMemoryId: $id, subTenantId: "sub_tenant_4567") { deleted } }`, {
      id: 'memory_1234',
    });
    expect(deleted.deleteUserMemory.deleted).toBe(true);
    await notSupported(tenant, `mutation { addUserMemory(input: { content: "x" }) { id } }`, {});
  });

  it('mielto: list (two pages, own workspace), create and delete memories', async () => {
    const list = `query ($after: String, $u: String, $w: String) {
      memories(first: 1, after: $after, userId: $u, workspaceId: $w) { edges { node { id backend } } pageInfo { hasNextPage endCursor } }
    }`;
    const first = await run('mielto', 'mielto', list, { u: 'user_123' });
    expect(first.memories.edges[0].node.backend).toBe('MIELTO');
    expect(first.memories.pageInfo.hasNextPage).toBe(true);
    await run('mielto', 'mielto', list, { u: 'user_123', after: first.memories.pageInfo.endCursor });
    await run('mielto', 'mielto', list, { w: 'ws_2' });
    const created = await run('mielto', 'mielto', `mutation ($i: CreateMemoryInput!) { createMemory(input: $i) { id backend } }`, {
      i: { userId: 'user_123', memory: 'Prefers window seats', topics: ['travel'], metadata: { source: 'onboarding' } },
    });
    expect(created.createMemory.backend).toBe('MIELTO');
    await run('mielto', 'mielto', `mutation ($i: CreateMemoryInput!) { createMemory(input: $i) { id } }`, { i: { userId: 'user_123', memory: 'bare' } });
    const deleted = await run('mielto', 'mielto', `mutation ($id: ID!) { deleteMemory(memoryId: $id, userId: "user_123") { message } }`, { id: 'mem_01HZX3K9' });
    expect(deleted.deleteMemory.message).toEqual(expect.any(String));
  });

  it('a request that breaks a spec fails (the check can fail)', async () => {
    // A path the spec does not have: Prism refuses it, and the gateway must report that as
    // UPSTREAM_ERROR, which is what makes the cases above meaningful.
    await setTenant(gateway.app.prisma, gateway.config, 'mielto-bad-path', {
      memories: 'mielto',
      settings: { 'mielto.url': `${mocks.mielto.url}/missing-prefix`, 'mielto.apiKey': 'prism-mielto-key' },
    });
    const token = await gateway.createKey('mielto-bad-path');
    const res = await gateway.execute(`query { memories(first: 1) { edges { node { id } } } }`, {}, { token });
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: 'mielto', upstreamStatus: 404 });
  });
});
