import { startMieltoFake } from '../fakes/mielto.js';
import type { MemorySeed } from './harness.js';
import { memoryContract } from './memories.contract.js';
import { providerHarness } from './provider-harness.js';

/** Each tenant has its own Mielto API key, so the fake keeps their memories apart as Mielto does. */
const KEYS = ['mielto-key-tenant-a', 'mielto-key-tenant-b'] as const;

for (const listKey of ['memories', 'data'] as const) {
  memoryContract(`mielto (items under "${listKey}")`, async () => {
    const fake = await startMieltoFake({ apiKeys: [...KEYS], listKey });
    return providerHarness<MemorySeed>({
      backend: 'MIELTO',
      canCreate: true,
      env: { MIELTO_URL: fake.url },
      tenant: (index) => ({ memories: 'mielto', settings: { 'mielto.apiKey': KEYS[index] } }),
      seed: async (index, { userId, memory }) => fake.seedMemory(KEYS[index], { user_id: userId, memory }),
      close: () => fake.close(),
    });
  });
}
