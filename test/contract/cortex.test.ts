import { startCortexFake, type CortexFakeOptions } from '../fakes/cortex.js';
import type { UserMemorySeed } from './harness.js';
import { providerHarness } from './provider-harness.js';
import { userMemoryContract } from './user-memories.contract.js';

/** Each tenant has its own Cortex account (API key) and Cortex tenant id, as in production. */
const KEYS = ['cortex-key-tenant-a', 'cortex-key-tenant-b'] as const;
const CORTEX_TENANTS = ['cortex-org-a', 'cortex-org-b'] as const;

/**
 * Both path generations (README §3.2, §3.3), each against a fake that serves only that one, so
 * a request to the wrong generation fails loudly. The documented variants of item keys and of a
 * delete that finds nothing are spread over the two runs.
 */
const RUNS: { paths: 'user_memory' | 'memories'; fake: CortexFakeOptions['paths']; itemKeys: 'memory' | 'source'; missingDelete: 'not-found' | 'not-deleted' }[] = [
  { paths: 'user_memory', fake: 'docs', itemKeys: 'memory', missingDelete: 'not-found' },
  { paths: 'memories', fake: 'v2', itemKeys: 'source', missingDelete: 'not-deleted' },
];

for (const run of RUNS) {
  userMemoryContract(`cortex (${run.paths} paths, ${run.itemKeys}_* keys, missing delete ${run.missingDelete})`, async () => {
    const fake = await startCortexFake({ apiKeys: [...KEYS], paths: run.fake, itemKeys: run.itemKeys, missingDelete: run.missingDelete });
    return providerHarness<UserMemorySeed>({
      backend: 'CORTEX',
      // Cortex's create contract is contradictory across doc versions (README §3.4).
      canCreate: false,
      userScope: 'subTenant',
      tenant: (index) => ({
        userMemories: 'cortex',
        settings: {
          'cortex.url': fake.url,
          'cortex.apiKey': KEYS[index],
          'cortex.tenantId': CORTEX_TENANTS[index],
          'cortex.paths': run.paths,
        },
      }),
      // No create through the gateway: memories go straight into the fake, in the sub-tenant asked
      // for (the suite sets one only where users are told apart) or the default one.
      seed: async (index, { content, subTenantId }) => fake.seedMemory(KEYS[index], { tenantId: CORTEX_TENANTS[index], subTenantId, content }),
      close: () => fake.close(),
    });
  });
}
