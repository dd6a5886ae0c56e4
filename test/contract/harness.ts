import type { TestGateway } from '../helpers/gateway.js';

export interface TenantHandle {
  id: string;
  /** A tenant API key for this tenant. */
  token: string;
}

export type BackendEnum = 'LOCAL' | 'MEMOBASE' | 'DATAGRID' | 'CORTEX' | 'MIELTO';

/**
 * What a family's contract suite needs from a backend: a gateway with two tenants routed to it,
 * and a way to put items into the backend the way that backend gets them (through the gateway
 * where it can create, straight into a provider's fake where it cannot).
 */
export interface FamilyHarness<SeedInput> {
  gateway: TestGateway;
  tenants: [TenantHandle, TenantHandle];
  backend: BackendEnum;
  /** Whether the family's create mutation is offered by this backend (else NOT_SUPPORTED). */
  canCreate: boolean;
  /**
   * User memories only: how the backend tells whose memory it is. `fields` (default, local):
   * items carry userId and agentId and lists filter on them. `subTenant` (Cortex): items carry
   * neither; a userId filter reads the sub-tenant named after the user (so the suite seeds with
   * `subTenantId`), and an agentId filter matches nothing.
   */
  userScope?: 'fields' | 'subTenant';
  /** Stores one item for the tenant and returns its id. */
  seed(tenant: TenantHandle, input: SeedInput): Promise<string>;
  close(): Promise<void>;
}

export interface UserEventSeed {
  userId: string;
  eventTip: string;
}

export interface UserMemorySeed {
  content: string;
  userId?: string;
  agentId?: string;
  /** Set only for `userScope: 'subTenant'` backends: the sub-tenant to store it in. */
  subTenantId?: string;
}

export interface MemorySeed {
  userId: string;
  memory: string;
}
