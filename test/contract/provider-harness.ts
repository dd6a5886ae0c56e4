import { setTenant, type TenantChanges } from '../../src/tenants.js';
import { startGateway } from '../helpers/gateway.js';
import type { BackendEnum, FamilyHarness, TenantHandle } from './harness.js';

export const TEST_GATEWAY_SECRET = 'test-gateway-secret-0123456789abcdef';

export interface ProviderHarnessOptions<Seed> {
  backend: BackendEnum;
  canCreate: boolean;
  /** See FamilyHarness.userScope; default `fields`. */
  userScope?: 'fields' | 'subTenant';
  /** Extra environment for the gateway (provider URLs, timeouts…). GATEWAY_SECRET is set. */
  env?: Record<string, string>;
  /**
   * Routing and upstream settings for tenant 0 and tenant 1, applied the way
   * `memory-gateway tenants set` applies them. Give each tenant its own provider credential so
   * isolation is the provider's, as in production.
   */
  tenant: (index: 0 | 1) => TenantChanges;
  /** Puts one item straight into the provider's fake for that tenant; returns its id. */
  seed: (index: 0 | 1, input: Seed) => Promise<string>;
  /** Stops the fake. */
  close: () => Promise<void>;
}

/** A gateway with two tenants routed to a provider (usually its fake on 127.0.0.1). */
export async function providerHarness<Seed>(options: ProviderHarnessOptions<Seed>): Promise<FamilyHarness<Seed>> {
  const gateway = await startGateway({ GATEWAY_SECRET: TEST_GATEWAY_SECRET, ...options.env });
  const tenants: TenantHandle[] = [];
  for (const index of [0, 1] as const) {
    const id = `tenant-${index === 0 ? 'a' : 'b'}`;
    await setTenant(gateway.app.prisma, gateway.config, id, options.tenant(index));
    tenants.push({ id, token: await gateway.createKey(id) });
  }
  return {
    gateway,
    tenants: tenants as [TenantHandle, TenantHandle],
    backend: options.backend,
    canCreate: options.canCreate,
    userScope: options.userScope,
    seed: (tenant, input) => options.seed(tenant === tenants[0] ? 0 : 1, input),
    async close() {
      await gateway.close();
      await options.close();
    },
  };
}
