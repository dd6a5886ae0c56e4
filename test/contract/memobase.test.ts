import { startMemobaseFake } from '../fakes/memobase.js';
import type { UserEventSeed } from './harness.js';
import { providerHarness } from './provider-harness.js';
import { userEventContract } from './user-events.contract.js';

/** One Memobase project token per tenant: the fake keeps each project's users apart, as Memobase does. */
const API_KEYS = ['memobase-project-token-a', 'memobase-project-token-b'] as const;

userEventContract('memobase', async () => {
  const fake = await startMemobaseFake({ apiKeys: [...API_KEYS] });
  return providerHarness<UserEventSeed>({
    backend: 'MEMOBASE',
    canCreate: false,
    tenant: (index) => ({ userEvents: 'memobase', settings: { 'memobase.url': fake.url, 'memobase.apiKey': API_KEYS[index] } }),
    // Memobase has no create endpoint: events go straight into the fake's project for that tenant.
    seed: async (index, { userId, eventTip }) => fake.seedEvent(API_KEYS[index], userId, { eventTip }),
    close: () => fake.close(),
  });
});
