import { startDatagridFake } from '../fakes/datagrid.js';
import type { UserMemorySeed } from './harness.js';
import { providerHarness } from './provider-harness.js';
import { userMemoryContract } from './user-memories.contract.js';

/**
 * Each tenant has its own Datagrid API key and teamspace, as in production: isolation is
 * Datagrid's. The fake honours `Datagrid-Teamspace` (an account-scoped key, README §2.1), so a
 * memory seeded outside the tenant's teamspace would not be listed.
 */
const KEYS = ['datagrid-key-tenant-a', 'datagrid-key-tenant-b'] as const;
const TEAMSPACES = ['ts-tenant-a', 'ts-tenant-b'] as const;

userMemoryContract('datagrid', async () => {
  const fake = await startDatagridFake({ apiKeys: [...KEYS] });
  return providerHarness<UserMemorySeed>({
    backend: 'DATAGRID',
    canCreate: true,
    tenant: (index) => ({
      userMemories: 'datagrid',
      settings: { 'datagrid.url': fake.url, 'datagrid.apiKey': KEYS[index], 'datagrid.teamspace': TEAMSPACES[index] },
    }),
    // Straight into the fake, with the user and agent the suite asks for (Datagrid's create has
    // no user field, README §2.4).
    seed: async (index, { content, userId, agentId }) =>
      fake.seedMemory(KEYS[index], { memory: content, user_id: userId, agent_id: agentId, teamspace: TEAMSPACES[index] }),
    close: () => fake.close(),
  });
});
