import { TENANT_ID_PATTERN } from './auth/api-keys.js';
import { PROVIDER_SETTINGS } from './backends/settings.js';
import { MEMORY_BACKENDS, USER_EVENT_BACKENDS, USER_MEMORY_BACKENDS, type Config } from './config.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { open, seal } from './secrets.js';

export interface TenantChanges {
  userEvents?: string;
  userMemories?: string;
  memories?: string;
  /** `<provider>.<name>` → value; an empty string removes the setting. */
  settings?: Record<string, string>;
}

export class TenantInputError extends Error {}

const ROUTES = [
  ['userEvents', 'userEventsBackend', USER_EVENT_BACKENDS],
  ['userMemories', 'userMemoriesBackend', USER_MEMORY_BACKENDS],
  ['memories', 'memoriesBackend', MEMORY_BACKENDS],
] as const;

const SETTING_NAMES = new Set(
  Object.entries(PROVIDER_SETTINGS).flatMap(([provider, names]) => names.map((name) => `${provider}.${name}`)),
);

/** Validates and applies routing and settings changes for one tenant (created if new). */
export async function setTenant(prisma: PrismaClient, config: Pick<Config, 'gatewaySecret' | 'defaults'>, id: string, changes: TenantChanges) {
  const problems: string[] = [];
  if (!TENANT_ID_PATTERN.test(id)) problems.push(`tenant id "${id}" must be 1-64 letters, digits, ".", "_" or "-"`);
  const routing: Record<string, string> = {};
  for (const [key, column, allowed] of ROUTES) {
    const value = changes[key];
    if (value === undefined) continue;
    if (!(allowed as readonly string[]).includes(value)) problems.push(`${key} must be one of ${allowed.join(', ')} (got "${value}")`);
    else routing[column] = value;
  }
  for (const [name, value] of Object.entries(changes.settings ?? {})) {
    if (!SETTING_NAMES.has(name)) problems.push(`unknown setting ${name}`);
    if (name.endsWith('.url') && value && !/^https?:\/\//.test(value)) problems.push(`${name} must be an http(s) URL`);
    if (name === 'cortex.paths' && value && value !== 'user_memory' && value !== 'memories') {
      problems.push('cortex.paths must be user_memory or memories');
    }
  }
  const touchesSettings = Object.keys(changes.settings ?? {}).length > 0;
  if (touchesSettings && !config.gatewaySecret) problems.push('GATEWAY_SECRET must be set to store provider settings (they are stored encrypted)');
  if (problems.length) throw new TenantInputError(problems.join('\n'));

  const existing = await prisma.tenant.findUnique({ where: { id } });
  let sealedSettings = existing?.sealedSettings ?? null;
  if (touchesSettings) {
    const secret = config.gatewaySecret!;
    const current = sealedSettings ? open(secret, sealedSettings) : {};
    for (const [name, value] of Object.entries(changes.settings!)) {
      if (value === '') delete current[name];
      else current[name] = value;
    }
    sealedSettings = Object.keys(current).length ? seal(secret, current) : null;
  }
  await prisma.tenant.upsert({
    where: { id },
    create: { id, ...routing, sealedSettings },
    update: { ...routing, sealedSettings },
  });
  return describeTenant(prisma, config, id);
}

const sourceOf = (own: string | null): 'tenant' | 'environment' => (own ? 'tenant' : 'environment');

/**
 * A tenant's routing and which settings it has — names only, never values. `routing` is the
 * backend that serves each family (the tenant's own setting, else the environment's default);
 * `routingSource` says which of the two it is.
 */
export async function describeTenant(prisma: PrismaClient, config: Pick<Config, 'gatewaySecret' | 'defaults'>, id: string) {
  const tenant = await prisma.tenant.findUnique({ where: { id }, include: { apiKeys: { where: { revokedAt: null }, select: { id: true } } } });
  if (!tenant) return null;
  let settingNames: string[] = [];
  if (tenant.sealedSettings) {
    settingNames = config.gatewaySecret ? Object.keys(open(config.gatewaySecret, tenant.sealedSettings)).sort() : ['(sealed; set GATEWAY_SECRET to list)'];
  }
  return {
    id: tenant.id,
    routing: {
      userEvents: tenant.userEventsBackend ?? config.defaults.userEvents,
      userMemories: tenant.userMemoriesBackend ?? config.defaults.userMemories,
      memories: tenant.memoriesBackend ?? config.defaults.memories,
    },
    routingSource: {
      userEvents: sourceOf(tenant.userEventsBackend),
      userMemories: sourceOf(tenant.userMemoriesBackend),
      memories: sourceOf(tenant.memoriesBackend),
    },
    settings: settingNames,
    activeKeys: tenant.apiKeys.length,
  };
}
