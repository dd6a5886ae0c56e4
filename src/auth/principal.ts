import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.js';
import { unauthenticated } from '../errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { looksLikeApiKey, verifyApiKey } from './api-keys.js';

/** Who is calling: a tenant API key (acts for any user of its tenant) or an end user's JWT. */
export type Principal =
  | { kind: 'tenant-key'; tenantId: string; keyId: string }
  | { kind: 'end-user'; tenantId: string; userId: string };

export const actorOf = (principal: Principal) =>
  principal.kind === 'tenant-key' ? `key:${principal.keyId}` : `user:${principal.userId}`;

export interface Authenticator {
  authenticate(authorization: string | null): Promise<Principal>;
}

export function createAuthenticator(config: Pick<Config, 'jwt'>, prisma: PrismaClient): Authenticator {
  const jwt = config.jwt;
  let jwtKey: Uint8Array | JWTVerifyGetKey | undefined;
  if (jwt?.secret) jwtKey = new TextEncoder().encode(jwt.secret);
  else if (jwt?.jwksUrl) jwtKey = createRemoteJWKSet(new URL(jwt.jwksUrl));

  return {
    async authenticate(authorization) {
      if (!authorization) throw unauthenticated('Missing Authorization header: send "Authorization: Bearer <token>"');
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw unauthenticated('Authorization header must be "Bearer <token>"');
      const token = match[1]!;

      if (looksLikeApiKey(token)) {
        const key = await verifyApiKey(prisma, token);
        if (!key) throw unauthenticated('Invalid or revoked API key');
        return { kind: 'tenant-key', tenantId: key.tenantId, keyId: key.keyId };
      }

      if (!jwtKey) throw unauthenticated('Invalid API key');
      try {
        const { payload } = await jwtVerify(token, jwtKey as Uint8Array, {
          issuer: jwt?.issuer,
          audience: jwt?.audience,
          algorithms: jwt?.secret ? ['HS256', 'HS384', 'HS512'] : undefined,
        });
        const tenant = payload.tenant;
        if (typeof payload.sub !== 'string' || !payload.sub || typeof tenant !== 'string' || !tenant) {
          throw new Error('claims');
        }
        return { kind: 'end-user', tenantId: tenant, userId: payload.sub };
      } catch {
        throw unauthenticated('Invalid or expired token');
      }
    },
  };
}
