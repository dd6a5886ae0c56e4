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

export function requireTenantKey(ctx: Context, what: string): void {
  if (ctx.principal.kind !== 'tenant-key') throw forbidden(`${what} needs a tenant API key`);
}
