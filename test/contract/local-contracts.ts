import type { TestStore } from '../helpers/databases.js';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import type { FamilyHarness, TenantHandle } from './harness.js';
import { memoryContract } from './memories.contract.js';
import { userEventContract } from './user-events.contract.js';
import { userMemoryContract } from './user-memories.contract.js';

/**
 * The three contract suites against the local backend on one store. Items are seeded through
 * the gateway's own create mutations.
 */
export function localContracts(name: string, store: TestStore) {
  async function localHarness<Seed>(seed: (gateway: TestGateway, tenant: TenantHandle, input: Seed) => Promise<string>): Promise<FamilyHarness<Seed>> {
    const gateway = await startGateway({}, { store });
    const tenants: [TenantHandle, TenantHandle] = [
      { id: 'tenant-a', token: await gateway.createKey('tenant-a') },
      { id: 'tenant-b', token: await gateway.createKey('tenant-b') },
    ];
    return { gateway, tenants, backend: 'LOCAL', canCreate: true, seed: (tenant, input) => seed(gateway, tenant, input), close: () => gateway.close() };
  }

  userEventContract(name, () =>
    localHarness(async (gateway, tenant, { userId, eventTip }) => {
      const res = await gateway.execute<any>(`mutation($u: ID!, $i: CreateUserEventInput!) { createUserEvent(userId: $u, input: $i) { id } }`, { u: userId, i: { eventTip } }, { token: tenant.token });
      return dataOf(res).createUserEvent.id;
    }),
  );

  userMemoryContract(name, () =>
    localHarness(async (gateway, tenant, input) => {
      const res = await gateway.execute<any>(`mutation($i: AddUserMemoryInput!) { addUserMemory(input: $i) { id } }`, { i: input }, { token: tenant.token });
      return dataOf(res).addUserMemory.id;
    }),
  );

  memoryContract(name, () =>
    localHarness(async (gateway, tenant, input) => {
      const res = await gateway.execute<any>(`mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id } }`, { i: input }, { token: tenant.token });
      return dataOf(res).createMemory.id;
    }),
  );
}
