import { afterEach, describe, expect, it } from 'vitest';
import { DatagridFake } from '../fakes/datagrid.js';
import type { FakeHttpServer } from '../fakes/fake-server.js';
import { MieltoFake } from '../fakes/mielto.js';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Resilience rules of the one upstream client, seen from a client of the gateway, for the
 * providers that accept creates: a create is never sent twice when it may have arrived, and a
 * provider's 429 never counts towards opening its circuit.
 */

const KEY = 'resilience-test-key';

const PROVIDERS = [
  {
    name: 'datagrid',
    fake: () => new DatagridFake({ apiKeys: [KEY] }).listen(),
    env: (url: string) => ({ USER_MEMORIES_BACKEND: 'datagrid', DATAGRID_URL: url, DATAGRID_API_KEY: KEY, DATAGRID_TEAMSPACE: 'ts' }),
    create: `mutation { addUserMemory(input: { content: "prefers tea", userId: "u", agentId: "agent-1" }) { id } }`,
    list: `{ userMemories(first: 5) { edges { node { id } } } }`,
  },
  {
    name: 'mielto',
    fake: () => new MieltoFake({ apiKeys: [KEY] }).listen(),
    env: (url: string) => ({ MEMORIES_BACKEND: 'mielto', MIELTO_URL: url, MIELTO_API_KEY: KEY }),
    create: `mutation { createMemory(input: { userId: "u", memory: "prefers tea" }) { id } }`,
    list: `{ memories(first: 5, userId: "u") { edges { node { id } } } }`,
  },
] as const;

let gateway: TestGateway | undefined;
let fake: FakeHttpServer | undefined;
afterEach(async () => {
  await gateway?.close();
  await fake?.close();
  gateway = undefined;
  fake = undefined;
});

describe.each(PROVIDERS)('$name', (provider) => {
  it('a create that timed out is not sent again: UPSTREAM_TIMEOUT and exactly one POST', async () => {
    fake = await provider.fake();
    gateway = await startGateway({ ...provider.env(fake.url), UPSTREAM_TIMEOUT_MS: '300', UPSTREAM_MAX_RETRIES: '2', UPSTREAM_RETRY_BUDGET_MS: '5000' });
    const token = await gateway.createKey('acme');
    fake.slow({ delayMs: 3000, times: 5, match: /^POST / });
    const error = errorOf(await gateway.execute(provider.create, {}, { token }));
    expect(error.extensions).toEqual({ code: 'UPSTREAM_TIMEOUT', provider: provider.name });
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('429 answers never open the circuit: three stay UPSTREAM_ERROR 429 and a fourth call reaches the provider', async () => {
    fake = await provider.fake();
    gateway = await startGateway({ ...provider.env(fake.url), UPSTREAM_MAX_RETRIES: '0', UPSTREAM_BREAKER_THRESHOLD: '2', UPSTREAM_BREAKER_COOLDOWN_MS: '60000' });
    const token = await gateway.createKey('acme');
    fake.rateLimit({ times: 3, retryAfterSeconds: 30 });
    for (let i = 1; i <= 3; i++) {
      const error = errorOf(await gateway.execute(provider.list, {}, { token }));
      expect(error.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: provider.name, upstreamStatus: 429 });
      expect(fake.requests).toHaveLength(i);
    }
    dataOf(await gateway.execute(provider.list, {}, { token }));
    expect(fake.requests).toHaveLength(4);
  });
});
