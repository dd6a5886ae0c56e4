import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { unauthenticated } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { TenantRow } from '../backends/route.js';
import { looksLikeApiKey, verifyApiKey } from './api-keys.js';
import type { AuthFreshness } from './freshness.js';

/** Verified API keys kept per process; past it the oldest goes first. */
const MAX_CACHED_KEYS = 10_000;

type VerifiedKey = NonNullable<Awaited<ReturnType<typeof verifyApiKey>>>;

/** Who is calling: a tenant API key (acts for any user of its tenant) or an end user's JWT. */
export type Principal =
  | { kind: 'tenant-key'; tenantId: string; keyId: string }
  | { kind: 'end-user'; tenantId: string; userId: string };

/**
 * The tenant's routing row as read with the principal (API keys: one statement for both), so
 * that the request does not read it again; absent when it was not read with it.
 */
const routingRows = new WeakMap<Principal, TenantRow>();
export const routingReadWith = (principal: Principal): TenantRow | undefined => routingRows.get(principal);

export const actorOf = (principal: Principal) =>
  principal.kind === 'tenant-key' ? `key:${principal.keyId}` : `user:${principal.userId}`;

export interface Authenticator {
  authenticate(authorization: string | null): Promise<Principal>;
}

/** Where a tenant's own issuer publishes its keys when the tenant names no JWKS URL. */
export const defaultJwksUrl = (issuer: string) => `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;

/**
 * End-user JWTs must carry `exp`, `sub` and a `tenant` that exists. A tenant with its own issuer
 * (`tenants set --jwt-issuer`) accepts only that issuer's tokens, verified with its keys; the
 * gateway-wide JWT_SECRET / JWT_JWKS_URL tokens cannot name it.
 */
export function createAuthenticator(config: Pick<Config, 'jwt'>, prisma: PrismaClient, logger?: Logger, freshness?: AuthFreshness): Authenticator {
  // Keys that verified, by the whole token (a wrong secret is never kept), with the version of
  // the database they were read at: served again only while that version holds.
  const verified = new Map<string, { version: number; key: VerifiedKey }>();
  const verifyKey = async (token: string): Promise<VerifiedKey | null> => {
    // Read before the key: a change committed during the read leaves the entry stale at once.
    const version = freshness?.version();
    const cached = version === undefined ? undefined : verified.get(token);
    if (cached && cached.version === version) return cached.key;
    const key = await verifyApiKey(prisma, token);
    if (!key || version === undefined) {
      verified.delete(token);
      return key;
    }
    if (verified.size >= MAX_CACHED_KEYS && !verified.has(token)) verified.delete(verified.keys().next().value!);
    verified.set(token, { version, key });
    return key;
  };
  const jwt = config.jwt;
  let globalKey: Uint8Array | JWTVerifyGetKey | undefined;
  if (jwt?.secret) globalKey = new TextEncoder().encode(jwt.secret);
  else if (jwt?.jwksUrl) globalKey = createRemoteJWKSet(new URL(jwt.jwksUrl));
  // One key set per URL for the life of the server: jose caches and refreshes the keys itself.
  const tenantKeySets = new Map<string, JWTVerifyGetKey>();
  const keySet = (url: string) => {
    let keys = tenantKeySets.get(url);
    if (!keys) tenantKeySets.set(url, (keys = createRemoteJWKSet(new URL(url))));
    return keys;
  };
  // One answer for every refused token (a caller learns nothing about tenants or issuers); the
  // operator's log says which check failed, never the token.
  const invalid = (reason: string, tenant?: unknown) => {
    logger?.info({ reason, tenant: typeof tenant === 'string' ? tenant.slice(0, 64) : undefined }, 'end-user token refused');
    return unauthenticated('Invalid or expired token');
  };

  return {
    async authenticate(authorization) {
      if (!authorization) throw unauthenticated('Missing Authorization header: send "Authorization: Bearer <token>"');
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw unauthenticated('Authorization header must be "Bearer <token>"');
      const token = match[1]!;

      if (looksLikeApiKey(token)) {
        const key = await verifyKey(token);
        if (!key) throw unauthenticated('Invalid or revoked API key');
        const principal: Principal = { kind: 'tenant-key', tenantId: key.tenantId, keyId: key.keyId };
        routingRows.set(principal, key.tenant);
        return principal;
      }

      let claimed: JWTPayload;
      try {
        claimed = decodeJwt(token);
      } catch {
        throw unauthenticated('Invalid API key or token');
      }
      const tenantId = claimed.tenant;
      if (typeof tenantId !== 'string' || !tenantId) throw invalid('no tenant claim');
      if (claimed.exp === undefined) {
        invalid('no exp claim', tenantId);
        throw unauthenticated('Token must carry an exp (expiry) claim');
      }
      const tenant = await prisma.tenant.findUnique({
        where: { id: tenantId },
        select: { jwtIssuer: true, jwtJwksUrl: true, jwtAudience: true },
      });
      if (!tenant) throw invalid('unknown tenant', tenantId);

      let key: Uint8Array | JWTVerifyGetKey;
      let options: JWTVerifyOptions;
      if (tenant.jwtIssuer) {
        key = keySet(tenant.jwtJwksUrl ?? defaultJwksUrl(tenant.jwtIssuer));
        options = { issuer: tenant.jwtIssuer, audience: tenant.jwtAudience ?? undefined };
      } else {
        if (!globalKey) throw invalid('no issuer configured for this tenant (JWT_SECRET / JWT_JWKS_URL unset)', tenantId);
        key = globalKey;
        options = { issuer: jwt?.issuer, audience: jwt?.audience, algorithms: jwt?.secret ? ['HS256', 'HS384', 'HS512'] : undefined };
      }
      try {
        const { payload } = await jwtVerify(token, key as Uint8Array, { ...options, requiredClaims: ['exp', 'sub'] });
        if (typeof payload.sub !== 'string' || !payload.sub || payload.tenant !== tenantId) throw new Error('claims');
        return { kind: 'end-user', tenantId, userId: payload.sub };
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'claims';
        throw invalid(tenant.jwtIssuer ? `not valid for the tenant's own issuer (${code})` : `not valid for the gateway-wide issuer (${code})`, tenantId);
      }
    },
  };
}
