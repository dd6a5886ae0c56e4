import { TENANT_ID_PATTERN } from './auth/api-keys.js';
import { PROVIDER_SETTINGS } from './backends/settings.js';
import { MEMORY_BACKENDS, USER_EVENT_BACKENDS, USER_MEMORY_BACKENDS, type Config } from './config.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { isLegacySealed, open, resealLegacy, seal } from './secrets.js';
import { authChanged } from './auth/freshness.js';

export interface TenantChanges {
  userEvents?: string;
  userMemories?: string;
  memories?: string;
  /** `<provider>.<name>` → value; an empty string removes the setting. */
  settings?: Record<string, string>;
  /** The tenant's own end-user token issuer; empty strings remove them. */
  jwt?: { issuer?: string; jwksUrl?: string; audience?: string };
}

export class TenantInputError extends Error {}

const isHttpUrl = (value: string) => {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

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
    if (name.endsWith('.url') && value.trim() && !isHttpUrl(value.trim())) problems.push(`${name} must be an http(s) URL`);
    if (name === 'cortex.paths' && value && value !== 'user_memory' && value !== 'memories') {
      problems.push('cortex.paths must be user_memory or memories');
    }
    if (/[\u0000-\u001f\u007f]/.test(value)) problems.push(`${name} must not contain control characters`);
  }
  const jwt = changes.jwt ?? {};
  if (jwt.jwksUrl && !isHttpUrl(jwt.jwksUrl)) problems.push('jwt-jwks-url must be an http(s) URL');
  if ((jwt.jwksUrl || jwt.audience) && !jwt.issuer && jwt.issuer !== '') {
    const current = await prisma.tenant.findUnique({ where: { id }, select: { jwtIssuer: true } }).catch(() => null);
    if (!current?.jwtIssuer) problems.push('jwt-jwks-url and jwt-audience need --jwt-issuer');
  }
  const jwtColumns: Record<string, string | null> = {};
  if (jwt.issuer !== undefined) jwtColumns.jwtIssuer = jwt.issuer || null;
  if (jwt.jwksUrl !== undefined) jwtColumns.jwtJwksUrl = jwt.jwksUrl || null;
  if (jwt.audience !== undefined) jwtColumns.jwtAudience = jwt.audience || null;
  if (jwt.issuer === '') Object.assign(jwtColumns, { jwtJwksUrl: null, jwtAudience: null });
  const touchesSettings = Object.keys(changes.settings ?? {}).length > 0;
  if (touchesSettings && !config.gatewaySecret) problems.push('GATEWAY_SECRET must be set to store provider settings (they are stored encrypted)');
  if (problems.length) throw new TenantInputError(problems.join('\n'));

  const existing = await prisma.tenant.findUnique({ where: { id } });
  let sealedSettings = existing?.sealedSettings ?? null;
  if (touchesSettings) {
    const secret = config.gatewaySecret!;
    const current = sealedSettings ? openStored(secret, id, sealedSettings) : {};
    for (const [name, value] of Object.entries(changes.settings!)) {
      // Stored trimmed: a pasted trailing space must not make a different scope of the same one.
      const trimmed = name === 'mielto.workspaces' ? value.split(',').map((w) => w.trim()).filter(Boolean).join(',') : value.trim();
      if (trimmed === '') delete current[name];
      else current[name] = trimmed;
    }
    sealedSettings = Object.keys(current).length ? seal(secret, id, current) : null;
  }
  await prisma.$transaction([
    prisma.tenant.upsert({
      where: { id },
      create: { id, ...routing, ...jwtColumns, sealedSettings },
      update: { ...routing, ...jwtColumns, sealedSettings },
    }),
    // Every instance serves the tenant's routing from memory until told (src/auth/freshness.ts).
    ...authChanged(prisma),
  ]);
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
    settingNames = config.gatewaySecret ? Object.keys(openStored(config.gatewaySecret, tenant.id, tenant.sealedSettings)).sort() : ['(sealed; set GATEWAY_SECRET to list)'];
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
    jwtIssuer: tenant.jwtIssuer,
    jwtJwksUrl: tenant.jwtJwksUrl,
    jwtAudience: tenant.jwtAudience,
    /** The upstream scopes this tenant has claimed (URL and partition; never a credential). */
    scopes: (await prisma.upstreamScopeClaim.findMany({ where: { tenantId: id }, orderBy: { createdAt: 'asc' }, select: { description: true } })).map(
      (claim) => claim.description,
    ),
    activeKeys: tenant.apiKeys.length,
  };
}

/** Opens a stored value, old (unbound) format included: it is read from this tenant's own row. */
function openStored(secret: string, tenantId: string, sealed: string): Record<string, string> {
  return open(secret, tenantId, isLegacySealed(sealed) ? resealLegacy(secret, tenantId, sealed) : sealed);
}

/**
 * Re-seals settings stored in the old format, which was not bound to its tenant, so each row
 * opens only for its own tenant from now on. Run at start-up (and by the CLI); returns how many
 * rows it changed.
 */
export async function resealLegacySettings(prisma: PrismaClient, secret: string): Promise<number> {
  const rows = await prisma.tenant.findMany({ where: { sealedSettings: { startsWith: 'v1.' } }, select: { id: true, sealedSettings: true } });
  for (const row of rows) {
    await prisma.$transaction([
      prisma.tenant.updateMany({
        where: { id: row.id, sealedSettings: row.sealedSettings },
        data: { sealedSettings: resealLegacy(secret, row.id, row.sealedSettings!) },
      }),
      ...authChanged(prisma),
    ]);
  }
  return rows.length;
}

/** Tenants whose stored settings do not open with `secret` (another secret, or tampered rows). */
export async function unreadableSettings(prisma: PrismaClient, secret: string): Promise<{ checked: number; unreadable: string[] }> {
  const rows = await prisma.tenant.findMany({ where: { sealedSettings: { not: null } }, select: { id: true, sealedSettings: true } });
  const unreadable: string[] = [];
  for (const row of rows) {
    try {
      openStored(secret, row.id, row.sealedSettings!);
    } catch {
      unreadable.push(row.id);
    }
  }
  return { checked: rows.length, unreadable };
}
