import type { Config, MemoryBackendName, UserEventBackendName, UserMemoryBackendName } from '../config.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { localMemoryStore } from './local/memories.js';
import { localUserEventStore } from './local/user-events.js';
import { localUserMemoryStore } from './local/user-memories.js';
import type { MemoryStore, Stores, UserEventStore, UserMemoryStore } from './types.js';

/** Which backend serves each family for one tenant. */
export interface TenantRouting {
  userEvents: UserEventBackendName;
  userMemories: UserMemoryBackendName;
  memories: MemoryBackendName;
}

/** Everything a provider adapter needs to build a store for one tenant and one request. */
export interface StoreFactoryInput {
  tenantId: string;
  /** Decrypted per-tenant settings (credentials, ids); empty when the tenant has none. */
  settings: Record<string, string>;
}

/**
 * Provider adapters register here, one factory per backend name and family. The local backend
 * needs none: it is always available.
 */
export interface ProviderFactories {
  userEvents?: Partial<Record<Exclude<UserEventBackendName, 'local'>, (input: StoreFactoryInput) => UserEventStore>>;
  userMemories?: Partial<Record<Exclude<UserMemoryBackendName, 'local'>, (input: StoreFactoryInput) => UserMemoryStore>>;
  memories?: Partial<Record<Exclude<MemoryBackendName, 'local'>, (input: StoreFactoryInput) => MemoryStore>>;
}

export interface StoreRouter {
  /** Picks the stores for a tenant; called once per request. */
  storesFor(tenantId: string): Promise<Stores>;
}

export interface StoreRouterDeps {
  config: Pick<Config, 'defaults'>;
  prisma: PrismaClient;
  providers?: ProviderFactories;
  /** Opens a tenant's sealed settings; absent while no provider needs credentials. */
  openSettings?: (sealed: string) => Record<string, string>;
}

export function createStoreRouter({ config, prisma, providers = {}, openSettings }: StoreRouterDeps): StoreRouter {
  return {
    async storesFor(tenantId) {
      const tenant = await prisma.tenant.findUnique({
        where: { id: tenantId },
        select: { userEventsBackend: true, userMemoriesBackend: true, memoriesBackend: true, sealedSettings: true },
      });
      const routing: TenantRouting = {
        userEvents: (tenant?.userEventsBackend as UserEventBackendName | null) ?? config.defaults.userEvents,
        userMemories: (tenant?.userMemoriesBackend as UserMemoryBackendName | null) ?? config.defaults.userMemories,
        memories: (tenant?.memoriesBackend as MemoryBackendName | null) ?? config.defaults.memories,
      };
      const input: StoreFactoryInput = {
        tenantId,
        settings: tenant?.sealedSettings && openSettings ? openSettings(tenant.sealedSettings) : {},
      };
      const pick = <S>(family: string, name: string, local: () => S, factories?: Partial<Record<string, (i: StoreFactoryInput) => S>>): S => {
        if (name === 'local') return local();
        const factory = factories?.[name];
        if (!factory) throw new Error(`No ${name} adapter is registered for ${family}`);
        return factory(input);
      };
      return {
        userEvents: pick('user events', routing.userEvents, () => localUserEventStore(prisma, tenantId), providers.userEvents),
        userMemories: pick('user memories', routing.userMemories, () => localUserMemoryStore(prisma, tenantId), providers.userMemories),
        memories: pick('memories', routing.memories, () => localMemoryStore(prisma, tenantId), providers.memories),
      };
    },
  };
}
