import { SignJWT } from 'jose';

/** A JWT_SECRET for test gateways (the config requires at least 32 characters). */
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdefghijklmnop';

export interface EndUserClaims {
  sub?: string;
  tenant?: string;
  [claim: string]: unknown;
}

/** Signs an end-user token the way an application's own login service would (HS256). */
export async function signEndUserToken(
  claims: EndUserClaims,
  { secret = TEST_JWT_SECRET, expiresIn = '5m' }: { secret?: string; expiresIn?: string | number } = {},
): Promise<string> {
  const { sub, ...rest } = claims;
  const jwt = new SignJWT(rest).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn);
  if (sub !== undefined) jwt.setSubject(sub);
  return jwt.sign(new TextEncoder().encode(secret));
}
