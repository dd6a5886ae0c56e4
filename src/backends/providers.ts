import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { AppError, forbidden } from '../errors.js';
import { cortexUserMemoryStore } from './cortex/store.js';
import { datagridUserMemoryStore } from './datagrid/store.js';
import { dedupePerRequest, type ProviderName, type UpstreamClient, type UpstreamConnection, type UpstreamPool } from './http.js';
import { memobaseUserEventStore } from './memobase/store.js';
import { mieltoMemoryStore } from './mielto/store.js';
import type { ProviderFactories, StoreFactoryInput } from './route.js';

export { PROVIDER_SETTINGS } from './settings.js';

/** The setting that names each provider's own partition, where it has one. */
const PARTITION: Partial<Record<ProviderName, { setting: string; label: string; flag: string }>> = {
  datagrid: { setting: 'teamspace', label: 'teamspace', flag: '--datagrid-teamspace' },
  cortex: { setting: 'tenantId', label: 'tenant', flag: '--cortex-tenant-id' },
  mielto: { setting: 'workspaceId', label: 'workspace', flag: '--mielto-workspace-id' },
};

type Settings = Record<string, string>;

/**
 * Everything that decides whose data a call reaches: one provider, one URL, one partition (or,
 * where the provider derives the partition from the credential, that credential: a Memobase
 * project is its token's). Two tenants
 * resolving to the same scope would see each other's data, so a scope is claimed by the first
 * tenant that uses it (route.ts).
 */
export interface UpstreamScope {
  provider: ProviderName;
  /** Stable identity of the scope; holds a credential only as a hash. */
  identity: string;
  /** What it is, for operators and error messages: URL and partition, never a credential. */
  description: string;
}

/** A provider as one tenant reaches it: the connection and the scope it addresses. */
export interface ResolvedUpstream {
  connection: UpstreamConnection;
  scope: UpstreamScope;
  /** The provider's partition the calls address (teamspace, Cortex tenant, workspace), if named. */
  partition?: string;
  /** Where the settings came from: the tenant's own, or the gateway's environment. */
  source: 'tenant' | 'environment';
}

const fingerprint = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 16);

function notConfigured(provider: ProviderName, what: string): AppError {
  return new AppError('UPSTREAM_UNAVAILABLE', `${provider} is not configured for this tenant (${what} missing)`, { provider });
}

/**
 * One spelling per URL, so a scope cannot be claimed twice under two spellings: the URL
 * standard's form (lower-case scheme and host, default port dropped, dot segments resolved)
 * without trailing slashes. Host aliases (a CNAME, an IP for a name) cannot be told apart here.
 */
function normalizeUrl(url: string): string {
  const parsed = new URL(url.trim());
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** Settings are trimmed where they are stored; this keeps older rows and the environment in line. */
const clean = (value: string | undefined) => {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
};

/**
 * Where, as whom and in which partition a tenant calls a provider. The environment's settings
 * are one unit: its credential goes only to its URL, and its partition is a default only for
 * callers of that credential. A tenant that sets its own URL must set its own key; a tenant that
 * sets its own key gets no partition from the environment (the environment's partition belongs
 * to the environment's account).
 */
export function resolveUpstream(
  config: Pick<Config, 'providers'>,
  provider: ProviderName,
  settings: Settings,
  partitionOverride?: string,
): ResolvedUpstream {
  const env = config.providers[provider] as { url?: string; apiKey?: string } & Record<string, unknown>;
  const own = (name: string) => clean(settings[`${provider}.${name}`]);
  const ownUrl = own('url');
  const ownKey = own('apiKey');
  const url = ownUrl ?? clean(env.url);
  if (!url) throw notConfigured(provider, 'URL');
  const apiKey = ownKey ?? (ownUrl ? undefined : clean(env.apiKey));
  if (!apiKey) throw notConfigured(provider, ownUrl && env.apiKey ? 'an API key of its own for its own URL' : 'API key');

  const partitionOf = PARTITION[provider];
  const partition = partitionOf ? (clean(partitionOverride) ?? defaultPartition(config, provider, settings)) : undefined;

  // Memobase and Mielto paths live under /api/v1 of the configured project/host URL.
  const base = normalizeUrl(url);
  const baseUrl = provider === 'memobase' || provider === 'mielto' ? `${base}/api/v1` : base;
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
  if (provider === 'datagrid' && partition) headers['datagrid-teamspace'] = partition;
  if (provider === 'mielto' && partition) headers['x-workspace-id'] = partition;

  // Where the provider derives the partition from the credential (a Memobase project token, or
  // a key whose default teamspace/workspace is used), the credential's account is the scope.
  const identity = JSON.stringify([provider, base, partition ? `p:${partition}` : `k:${fingerprint(apiKey)}`]);
  const description = partition
    ? `${provider} ${partitionOf!.label} ${partition} at ${base}`
    : provider === 'memobase'
      ? `the memobase project of this API key at ${base}`
      : `${provider} at ${base} (the API key's default partition)`;

  return {
    connection: { provider, baseUrl, headers, timeoutMs: (config.providers[provider] as { timeoutMs: number }).timeoutMs },
    scope: { provider, identity, description },
    partition,
    source: ownUrl || ownKey || (partitionOf && own(partitionOf.setting)) ? 'tenant' : 'environment',
  };
}

/**
 * The partition a tenant's calls address when a request names none: its own setting, else the
 * environment's, which goes only with the environment's account (no URL or key of its own).
 */
function defaultPartition(config: Pick<Config, 'providers'>, provider: ProviderName, settings: Settings): string | undefined {
  const partitionOf = PARTITION[provider];
  if (!partitionOf) return undefined;
  const own = (name: string) => clean(settings[`${provider}.${name}`]);
  const env = config.providers[provider] as Record<string, unknown>;
  return own(partitionOf.setting) ?? (own('url') || own('apiKey') ? undefined : clean(env[partitionOf.setting] as string | undefined));
}

/**
 * How to give a tenant its own scope at a provider, for the message that refuses a shared one:
 * its own partition, or (where it has no key of its own yet) its own key.
 */
export function ownScopeHint(provider: ProviderName, tenantId: string, settings: Settings): string {
  const partition = PARTITION[provider];
  const hasOwnKey = Boolean(clean(settings[`${provider}.apiKey`]));
  const options = [
    ...(partition ? [`${partition.flag} <its own ${partition.label} id>`] : []),
    ...(hasOwnKey && partition ? [] : [`--${provider}-api-key <its own key>`]),
  ];
  return `npx memory-gateway tenants set ${tenantId} ${options.join(' or ')}`;
}

/** The Mielto workspaces a tenant may name: its configured one plus `mielto.workspaces`. */
export function mieltoWorkspaces(config: Pick<Config, 'providers'>, settings: Settings): { fallback?: string; allowed: Set<string> } {
  const fallback = defaultPartition(config, 'mielto', settings);
  const listed = (settings['mielto.workspaces'] ?? '')
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  return { fallback, allowed: new Set([...(fallback ? [fallback] : []), ...listed]) };
}

/**
 * Builds the upstream client for one scope of one tenant in one request: the scope must be this
 * tenant's (claimed), each call counts against the request's budget, goes through the caller's
 * gate when it gave one (bounded and paced per credential), and identical calls within the
 * request go out once.
 */
export type ScopedClientFactory = (input: StoreFactoryInput, upstream: ResolvedUpstream) => UpstreamClient;

export function scopedClients(pool: UpstreamPool): ScopedClientFactory {
  return (input, upstream) => {
    const client = pool.client(upstream.connection, `${input.tenantId}\0${upstream.scope.identity}`, input.observer);
    const { provider, baseUrl, headers } = upstream.connection;
    let claimed: Promise<void> | undefined;
    return dedupePerRequest({
      provider: client.provider,
      async request(req) {
        await (claimed ??= input.claim(upstream.scope));
        input.budget.spend(upstream.scope.provider);
        if (!input.gate) return client.request(req);
        const call = { provider, credential: fingerprint(`${baseUrl}\0${headers.authorization}`), scope: fingerprint(upstream.scope.identity), method: req.method, path: req.path };
        return input.gate.run(call, () => client.request(req));
      },
    });
  };
}

/** Distinct settings remembered per process; past it the memory starts over (tenants are few, settings change rarely). */
const MAX_REMEMBERED_SETTINGS = 1000;

/**
 * `resolveUpstream` and `mieltoWorkspaces` remembered per provider, partition and settings: they
 * depend on nothing else (the configuration is fixed for the process), and every proxied request
 * would otherwise parse the URL and hash the credential again.
 */
class ResolvedUpstreams {
  private readonly upstreams = new Map<string, ResolvedUpstream>();
  private readonly mielto = new Map<string, { fallback?: string; allowed: Set<string> }>();

  constructor(private readonly config: Pick<Config, 'providers'>) {}

  get(provider: ProviderName, settings: Settings, partition?: string): ResolvedUpstream {
    const key = `${provider}\0${partition ?? ''}\0${JSON.stringify(settings)}`;
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      upstream = resolveUpstream(this.config, provider, settings, partition);
      remember(this.upstreams, key, upstream);
    }
    return upstream;
  }

  workspaces(settings: Settings): { fallback?: string; allowed: Set<string> } {
    const key = JSON.stringify(settings);
    let workspaces = this.mielto.get(key);
    if (!workspaces) {
      workspaces = mieltoWorkspaces(this.config, settings);
      remember(this.mielto, key, workspaces);
    }
    return workspaces;
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V) {
  if (map.size >= MAX_REMEMBERED_SETTINGS) map.clear();
  map.set(key, value);
}

/** The provider adapters, wired to the shared upstream pool. */
export function providerFactories(config: Pick<Config, 'providers'>, pool: UpstreamPool): ProviderFactories {
  const scoped = scopedClients(pool);
  const resolved = new ResolvedUpstreams(config);
  const client = (provider: ProviderName, input: StoreFactoryInput, partition?: string) => scoped(input, resolved.get(provider, input.settings, partition));
  return {
    userEvents: {
      memobase: (input) => memobaseUserEventStore(client('memobase', input)),
    },
    userMemories: {
      datagrid: (input) => datagridUserMemoryStore(client('datagrid', input)),
      cortex: (input) => {
        const upstream = resolved.get('cortex', input.settings);
        const tenantId = upstream.partition;
        if (!tenantId) throw notConfigured('cortex', 'tenant id');
        const paths = (input.settings['cortex.paths'] ?? config.providers.cortex.paths) as 'user_memory' | 'memories';
        return cortexUserMemoryStore(scoped(input, upstream), { tenantId, paths });
      },
    },
    memories: {
      mielto: (input) => {
        const { fallback, allowed } = resolved.workspaces(input.settings);
        const clients = new Map<string, UpstreamClient>();
        return mieltoMemoryStore((workspaceId) => {
          const ws = workspaceId ?? fallback;
          if (workspaceId != null && !allowed.has(workspaceId)) {
            throw forbidden(`Workspace ${workspaceId} is not one of this tenant's Mielto workspaces`);
          }
          const key = ws ?? '';
          let c = clients.get(key);
          if (!c) clients.set(key, (c = client('mielto', input, ws)));
          return c;
        });
      },
    },
  };
}
