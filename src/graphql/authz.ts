import type { Context } from '../context.js';
import { forbidden } from '../errors.js';

/**
 * The user an operation acts for. A tenant key may name any user of its tenant (or none, for
 * tenant-wide lists). An end-user token acts for its own `sub` only: naming anyone else is
 * FORBIDDEN, and naming no one means itself.
 */
export function actingUser(ctx: Context, requested: string | null | undefined): string | null {
  const principal = ctx.principal;
  if (principal.kind === 'tenant-key') return requested ?? null;
  if (requested != null && requested !== principal.userId) {
    throw forbidden('An end-user token may only act on its own data');
  }
  return principal.userId;
}

/**
 * The sub-tenant an operation names. Sub-tenants live inside the tenant's own partition (Cortex
 * keeps one per end user, named by the user id), so a tenant key may name any; an end user only
 * their own.
 */
export function actingSubTenant(ctx: Context, requested: string | null): string | null {
  const principal = ctx.principal;
  if (requested == null || principal.kind === 'tenant-key' || requested === principal.userId) return requested;
  throw forbidden('An end-user token may only name its own sub-tenant');
}

export function requireTenantKey(ctx: Context, what: string): void {
  if (ctx.principal.kind !== 'tenant-key') throw forbidden(`${what} needs a tenant API key`);
}
