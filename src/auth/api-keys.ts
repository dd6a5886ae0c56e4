import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readRows } from '../direct-reads.js';
import { authChanged } from './freshness.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import type { TenantRow } from '../backends/route.js';

/**
 * Tenant API keys look like `mgw_<keyId>_<secret>`. The key id is public (it names the key for
 * `keys revoke`); only the SHA-256 of the 32-byte random secret is stored. A fast hash is right
 * here: the secret is high-entropy, so there is nothing to brute-force.
 */
const KEY_PATTERN = /^mgw_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface IssuedKey {
  id: string;
  key: string;
  tenant: string;
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export async function createApiKey(prisma: PrismaClient, tenantId: string, label?: string): Promise<IssuedKey> {
  if (!TENANT_ID_PATTERN.test(tenantId)) {
    throw new Error('tenant id must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  await prisma.$transaction([
    prisma.tenant.upsert({ where: { id: tenantId }, create: { id: tenantId }, update: {} }),
    prisma.apiKey.create({ data: { id, tenantId, secretHash: hashSecret(secret), label: label ?? null } }),
    ...authChanged(prisma),
  ]);
  return { id, key: `mgw_${id}_${secret}`, tenant: tenantId };
}

/** Revokes a key by id; returns false when no such active key exists. */
export async function revokeApiKey(prisma: PrismaClient, keyId: string): Promise<boolean> {
  const [result] = await prisma.$transaction([
    prisma.apiKey.updateMany({ where: { id: keyId, revokedAt: null }, data: { revokedAt: new Date() } }),
    // Every instance serves this key from memory until told (src/auth/freshness.ts).
    ...authChanged(prisma),
  ]);
  return (result as { count: number }).count > 0;
}

export async function listApiKeys(prisma: PrismaClient, tenantId?: string) {
  return prisma.apiKey.findMany({
    where: tenantId ? { tenantId } : {},
    select: { id: true, tenantId: true, label: true, createdAt: true, revokedAt: true },
    orderBy: [{ tenantId: 'asc' }, { createdAt: 'asc' }],
  });
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('mgw_');
}

/**
 * Returns the key's id and tenant when the token is a valid, unrevoked key, with the tenant's
 * routing row: one statement for both, sent to the driver adapter directly (src/direct-reads.ts).
 * The authenticator keeps the answer while the database says keys and tenants are unchanged
 * (src/auth/freshness.ts).
 */
export async function verifyApiKey(
  prisma: PrismaClient,
  token: string,
): Promise<{ keyId: string; tenantId: string; tenant: TenantRow } | null> {
  const match = KEY_PATTERN.exec(token);
  if (!match) return null;
  const [, id, secret] = match as unknown as [string, string, string];
  const [row] = await readRows<TenantRow & { tenantId: string; secretHash: string; revokedAt: unknown }>(
    prisma,
    Prisma.sql`
    SELECT k."tenantId", k."secretHash", k."revokedAt",
           t."userEventsBackend", t."userMemoriesBackend", t."memoriesBackend", t."sealedSettings"
    FROM "ApiKey" k LEFT JOIN "Tenant" t ON t."id" = k."tenantId"
    WHERE k."id" = ${id}`,
  );
  if (!row || row.revokedAt) return null;
  const expected = Buffer.from(row.secretHash, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
  const tenant: TenantRow = {
    userEventsBackend: row.userEventsBackend,
    userMemoriesBackend: row.userMemoriesBackend,
    memoriesBackend: row.memoriesBackend,
    sealedSettings: row.sealedSettings,
  };
  return { keyId: id, tenantId: row.tenantId, tenant };
}
