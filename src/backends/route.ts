import type { Config, MemoryBackendName, UserEventBackendName, UserMemoryBackendName } from '../config.js';
import { AppError } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { SealedSettingsError } from '../secrets.js';
import type { UpstreamBudget } from './budget.js';
import type { ScopeClaims } from './claims.js';
import type { UpstreamGate } from './gate.js';
import type { UpstreamObserver } from './http.js';
import { localMemoryStore } from './local/memories.js';
import { localUserEventStore } from './local/user-events.js';
import { localUserMemoryStore } from './local/user-memories.js';
import { ownScopeHint, type UpstreamScope } from './providers.js';
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
  /** Resolves when the tenant may call into the scope (the first tenant to use a scope claims it). */
  claim(scope: UpstreamScope): Promise<void>;
  /** The request's budget of upstream calls. */
  budget: UpstreamBudget;
  /** The request the stores serve: its upstream calls carry its trace context and are logged with it. */
  observer?: UpstreamObserver;
  /** Wraps every upstream call, when the caller asked for one (bulk deletes, forget jobs). */
  gate?: UpstreamGate;
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

/** The columns of a tenant's row that routing reads; all null for a tenant without a row. */
export interface TenantRow {
  userEventsBackend: string | null;
  userMemoriesBackend: string | null;
  memoriesBackend: string | null;
  sealedSettings: string | null;
}

export interface StoreRouter {
  /**
   * Picks the stores for a tenant; called once per request, with that request's call budget, the
   * request its upstream calls are made for (trace context, logs) and, for bulk deletes and
   * forget jobs, the gate their upstream calls go through. `row` is the tenant's row when the
   * request has read it already (with its API key), so it is not read twice.
   */
  storesFor(tenantId: string, budget: UpstreamBudget, options?: { observer?: UpstreamObserver; gate?: UpstreamGate; row?: TenantRow | null }): Promise<Stores>;
  /** Which backend serves each family for the tenant. */
  routingFor(tenantId: string): Promise<TenantRouting>;
}

export interface StoreRouterDeps {
  config: Pick<Config, 'defaults'>;
  prisma: PrismaClient;
  providers?: ProviderFactories;
  /** Opens a tenant's sealed settings (needs GATEWAY_SECRET). */
  openSettings?: (tenantId: string, sealed: string) => Record<string, string>;
  claims: ScopeClaims;
}

type RoutingColumns = { userEventsBackend: string | null; userMemoriesBackend: string | null; memoriesBackend: string | null } | null;

export function createStoreRouter({ config, prisma, providers = {}, openSettings, claims }: StoreRouterDeps): StoreRouter {
  const routingOf = (tenant: RoutingColumns): TenantRouting => ({
    userEvents: (tenant?.userEventsBackend as UserEventBackendName | null) ?? config.defaults.userEvents,
    userMemories: (tenant?.userMemoriesBackend as UserMemoryBackendName | null) ?? config.defaults.userMemories,
    memories: (tenant?.memoriesBackend as MemoryBackendName | null) ?? config.defaults.memories,
  });
  return {
    async routingFor(tenantId) {
      return routingOf(
        await prisma.tenant.findUnique({ where: { id: tenantId }, select: { userEventsBackend: true, userMemoriesBackend: true, memoriesBackend: true } }),
      );
    },

    async storesFor(tenantId, budget, { observer, gate, row } = {}) {
      const tenant =
        row !== undefined
          ? row
          : await prisma.tenant.findUnique({
              where: { id: tenantId },
              select: { userEventsBackend: true, userMemoriesBackend: true, memoriesBackend: true, sealedSettings: true },
            });
      const routing = routingOf(tenant);
      const sealed = tenant?.sealedSettings;
      let settings: Record<string, string> | undefined;
      const input: StoreFactoryInput = {
        tenantId,
        budget,
        claim(scope) {
          return claims.claim(tenantId, scope, ownScopeHint(scope.provider, tenantId, input.settings));
        },
        observer,
        gate,
        // Opened only when a provider store is built: local-only requests never decrypt.
        get settings() {
          if (!sealed) return {};
          if (!openSettings) {
            throw new AppError(
              'UPSTREAM_UNAVAILABLE',
              "This tenant's provider settings are stored encrypted and the gateway runs without GATEWAY_SECRET; an operator must restart it with the secret they were stored with",
            );
          }
          try {
            return (settings ??= openSettings(tenantId, sealed));
          } catch (error) {
            if (!(error instanceof SealedSettingsError)) throw error;
            // Sealed for another tenant or under another GATEWAY_SECRET: unusable, and nothing
            // about why is the caller's business beyond where the fix lies.
            throw new AppError(
              'UPSTREAM_UNAVAILABLE',
              `This tenant's stored provider settings cannot be opened; an operator must set them again (npx memory-gateway tenants set ${tenantId} …)`,
            );
          }
        },
      };
      const pick = <S>(name: string, local: () => S, factories?: Partial<Record<string, (i: StoreFactoryInput) => S>>) => {
        if (name === 'local') return local;
        const factory = factories?.[name];
        return () => {
          if (!factory) throw new Error(`No ${name} adapter is registered`);
          return factory(input);
        };
      };
      return lazyStores({
        userEvents: pick(routing.userEvents, () => localUserEventStore(prisma, tenantId), providers.userEvents),
        userMemories: pick(routing.userMemories, () => localUserMemoryStore(prisma, tenantId), providers.userMemories),
        memories: pick(routing.memories, () => localMemoryStore(prisma, tenantId), providers.memories),
      });
    },
  };
}

/**
 * Builds each family's store on first use, so a request that reads one family is not failed by
 * another family's missing provider configuration; the error surfaces on the field that needs it.
 */
function lazyStores(factories: { [K in keyof Stores]: () => Stores[K] }): Stores {
  const built: Partial<Stores> = {};
  const get = <K extends keyof Stores>(family: K): Stores[K] => (built[family] ??= factories[family]()) as Stores[K];
  return {
    get userEvents() {
      return get('userEvents');
    },
    get userMemories() {
      return get('userMemories');
    },
    get memories() {
      return get('memories');
    },
  };
}
