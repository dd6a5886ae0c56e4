import type { ProviderName } from './http.js';

/**
 * Per-tenant settings a provider accepts (`tenants set --<provider>-<name>`), stored sealed as
 * `<provider>.<name>`. A tenant's setting wins over the environment default. Kept apart from the
 * adapters so that the CLI can declare its options without loading them (and the HTTP client).
 */
export const PROVIDER_SETTINGS = {
  memobase: ['url', 'apiKey'],
  datagrid: ['url', 'apiKey', 'teamspace'],
  cortex: ['url', 'apiKey', 'tenantId', 'paths'],
  mielto: ['url', 'apiKey', 'workspaceId', 'workspaces'],
} as const satisfies Record<ProviderName, readonly string[]>;
