import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { cortexUserMemoryStore } from './cortex/store.js';
import { datagridUserMemoryStore } from './datagrid/store.js';
import { dedupePerRequest, type ProviderName, type UpstreamConnection, type UpstreamPool } from './http.js';
import { memobaseUserEventStore } from './memobase/store.js';
import { mieltoMemoryStore } from './mielto/store.js';
import type { ProviderFactories, StoreFactoryInput } from './route.js';

type Settings = Record<string, string>;

function setting(settings: Settings, provider: ProviderName, name: string, fallback?: string): string | undefined {
  return settings[`${provider}.${name}`] ?? fallback;
}

function notConfigured(provider: ProviderName, what: string): AppError {
  return new AppError('UPSTREAM_UNAVAILABLE', `${provider} is not configured for this tenant (${what} missing)`, { provider });
}

function bearer(provider: ProviderName, apiKey: string | undefined): Record<string, string> {
  if (!apiKey) throw notConfigured(provider, 'API key');
  return { authorization: `Bearer ${apiKey}` };
}

/** Where and how each provider is called for a tenant, from its settings and the environment. */
export function connectionFor(config: Pick<Config, 'providers'>, provider: ProviderName, settings: Settings): UpstreamConnection {
  const env = config.providers[provider];
  const url = setting(settings, provider, 'url', env.url);
  if (!url) throw notConfigured(provider, 'URL');
  const apiKey = setting(settings, provider, 'apiKey', env.apiKey);
  // Memobase and Mielto paths live under /api/v1 of the configured project/host URL.
  const baseUrl = provider === 'memobase' || provider === 'mielto' ? `${url.replace(/\/+$/, '')}/api/v1` : url;
  const headers = bearer(provider, apiKey);
  if (provider === 'datagrid') {
    const teamspace = setting(settings, provider, 'teamspace', config.providers.datagrid.teamspace);
    if (teamspace) headers['datagrid-teamspace'] = teamspace;
  }
  return { provider, baseUrl, headers, timeoutMs: env.timeoutMs };
}

/** The provider adapters, wired to the shared upstream pool. */
export function providerFactories(config: Pick<Config, 'providers'>, pool: UpstreamPool): ProviderFactories {
  const client = (provider: ProviderName, input: StoreFactoryInput) =>
    dedupePerRequest(pool.client(connectionFor(config, provider, input.settings), input.observer));
  return {
    userEvents: {
      memobase: (input) => memobaseUserEventStore(client('memobase', input)),
    },
    userMemories: {
      datagrid: (input) => datagridUserMemoryStore(client('datagrid', input)),
      cortex: (input) => {
        const tenantId = setting(input.settings, 'cortex', 'tenantId', config.providers.cortex.tenantId);
        if (!tenantId) throw notConfigured('cortex', 'tenant id');
        const paths = setting(input.settings, 'cortex', 'paths', config.providers.cortex.paths) as 'user_memory' | 'memories';
        return cortexUserMemoryStore(client('cortex', input), { tenantId, paths });
      },
    },
    memories: {
      mielto: (input) =>
        mieltoMemoryStore(client('mielto', input), {
          workspaceId: setting(input.settings, 'mielto', 'workspaceId', config.providers.mielto.workspaceId),
        }),
    },
  };
}
