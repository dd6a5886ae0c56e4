import { setTenant, type TenantChanges } from '../../src/tenants.js';
import { TEST_GATEWAY_SECRET } from '../contract/provider-harness.js';
import { startCortexFake, type CortexFake } from '../fakes/cortex.js';
import { startDatagridFake, type DatagridFakeOptions, type DatagridFake } from '../fakes/datagrid.js';
import { startMemobaseFake, type MemobaseFake } from '../fakes/memobase.js';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { startGateway, type StartGatewayOptions, type TestGateway } from './gateway.js';
import { TEST_JWT_SECRET } from './jwt.js';

/**
 * A gateway with two tenants, A and B, each with its own credential and partition at every
 * provider's fake (as production isolates them), and a routing the test picks.
 */

export type Who = 'a' | 'b';

export interface ProviderFakes {
  memobase: MemobaseFake;
  datagrid: DatagridFake;
  cortex: CortexFake;
  mielto: MieltoFake;
}

export const PROVIDER_KEYS = {
  a: { memobase: 'memobase-key-a', datagrid: 'datagrid-key-a', cortex: 'cortex-key-a', mielto: 'mielto-key-a' },
  b: { memobase: 'memobase-key-b', datagrid: 'datagrid-key-b', cortex: 'cortex-key-b', mielto: 'mielto-key-b' },
} as const;

/** Where each tenant's data lives at the fakes. */
export const PLACEMENT = {
  a: { teamspace: 'ts-a', cortexTenant: 'ct-a', workspace: 'ws-a' },
  b: { teamspace: 'ts-b', cortexTenant: 'ct-b', workspace: 'ws-b' },
} as const;

export type Routing = Pick<TenantChanges, 'userEvents' | 'userMemories' | 'memories'>;
export const LOCAL: Routing = { userEvents: 'local', userMemories: 'local', memories: 'local' };
export const PROXIED: Routing = { userEvents: 'memobase', userMemories: 'datagrid', memories: 'mielto' };
export const CORTEX: Routing = { userEvents: 'local', userMemories: 'cortex', memories: 'local' };

export function ownSettings(fakes: ProviderFakes, who: Who): Record<string, string> {
  return {
    'memobase.url': fakes.memobase.url,
    'memobase.apiKey': PROVIDER_KEYS[who].memobase,
    'datagrid.url': fakes.datagrid.url,
    'datagrid.apiKey': PROVIDER_KEYS[who].datagrid,
    'datagrid.teamspace': PLACEMENT[who].teamspace,
    'cortex.url': fakes.cortex.url,
    'cortex.apiKey': PROVIDER_KEYS[who].cortex,
    'cortex.tenantId': PLACEMENT[who].cortexTenant,
    'mielto.url': fakes.mielto.url,
    'mielto.apiKey': PROVIDER_KEYS[who].mielto,
    'mielto.workspaceId': PLACEMENT[who].workspace,
  };
}

export async function startProviderFakes(options: { datagrid?: Partial<DatagridFakeOptions> } = {}): Promise<ProviderFakes> {
  const keys = (p: keyof (typeof PROVIDER_KEYS)['a']) => [PROVIDER_KEYS.a[p], PROVIDER_KEYS.b[p]];
  return {
    memobase: await startMemobaseFake({ apiKeys: keys('memobase') }),
    datagrid: await startDatagridFake({ apiKeys: keys('datagrid'), ...options.datagrid }),
    cortex: await startCortexFake({ apiKeys: keys('cortex') }),
    mielto: await startMieltoFake({ apiKeys: keys('mielto') }),
  };
}

export interface TwoTenants {
  gateway: TestGateway;
  fakes: ProviderFakes;
  /** Tenant API keys. */
  keyA: string;
  keyB: string;
  close(): Promise<void>;
}

/** Both tenants routed alike, each on its own credentials; end-user JWTs enabled. */
export async function twoTenants(routing: Routing, options: { env?: Record<string, string>; app?: StartGatewayOptions; fakes?: ProviderFakes } = {}): Promise<TwoTenants> {
  const fakes = options.fakes ?? (await startProviderFakes());
  const gateway = await startGateway({ GATEWAY_SECRET: TEST_GATEWAY_SECRET, JWT_SECRET: TEST_JWT_SECRET, ...options.env }, options.app);
  await setTenant(gateway.app.prisma, gateway.config, 'tenant-a', { ...routing, settings: ownSettings(fakes, 'a') });
  await setTenant(gateway.app.prisma, gateway.config, 'tenant-b', { ...routing, settings: ownSettings(fakes, 'b') });
  return {
    gateway,
    fakes,
    keyA: await gateway.createKey('tenant-a'),
    keyB: await gateway.createKey('tenant-b'),
    async close() {
      await gateway.close();
      if (!options.fakes) await Promise.all(Object.values(fakes).map((f) => f.close()));
    },
  };
}
