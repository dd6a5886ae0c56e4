import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from 'pino';
import type { UpstreamScope } from './providers.js';

/**
 * Upstream scopes and the tenants that claimed them. The first tenant that calls into a scope
 * claims it; any other tenant resolving to the same scope is refused before its call leaves the
 * gateway, unless the operator allows shared scopes (ALLOW_SHARED_UPSTREAM_SCOPE=true). Claims
 * are rows, so every instance on the same database agrees; a claim never changes owner, so each
 * instance remembers the ones it has seen.
 */
export interface ScopeClaims {
  /**
   * Resolves when `tenantId` may call into `scope`; throws UPSTREAM_UNAVAILABLE otherwise. `hint`
   * is the command that gives the tenant its own scope.
   */
  claim(tenantId: string, scope: UpstreamScope, hint: string): Promise<void>;
}

export function createScopeClaims(prisma: PrismaClient, options: { allowShared: boolean; logger: Logger }): ScopeClaims {
  /** By the scope's identity (which holds a credential only as a hash): no hashing per request. */
  const owners = new Map<string, string>();

  async function ownerOf(scope: UpstreamScope, tenantId: string): Promise<string> {
    const known = owners.get(scope.identity);
    if (known) return known;
    const key = createHash('sha256').update(scope.identity).digest('hex');
    let row = await prisma.upstreamScopeClaim.findUnique({ where: { scope: key }, select: { tenantId: true } });
    if (!row) {
      try {
        row = await prisma.upstreamScopeClaim.create({
          data: { scope: key, provider: scope.provider, tenantId, description: scope.description },
          select: { tenantId: true },
        });
      } catch {
        // Another request or instance claimed it first: its claim stands.
        row = await prisma.upstreamScopeClaim.findUniqueOrThrow({ where: { scope: key }, select: { tenantId: true } });
      }
    }
    owners.set(scope.identity, row.tenantId);
    return row.tenantId;
  }

  return {
    async claim(tenantId, scope, hint) {
      if (options.allowShared) return;
      const owner = await ownerOf(scope, tenantId);
      if (owner === tenantId) return;
      // The operator gets the whole story; the caller (maybe an end user) learns nothing about the
      // other tenant or the upstream, only that an operator must act and how.
      options.logger.warn(
        { tenant: tenantId, owner, provider: scope.provider, scope: scope.description },
        'upstream scope refused: it belongs to another tenant',
      );
      throw new AppError(
        'UPSTREAM_UNAVAILABLE',
        `This tenant's ${scope.provider} settings point at a scope that another tenant of this gateway already uses; an operator must give it its own: ${hint}`,
        { provider: scope.provider },
      );
    },
  };
}
