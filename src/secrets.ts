import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Tenant settings (upstream credentials and ids) are stored sealed with AES-256-GCM. Format
 * `v2.<iv>.<tag>.<ciphertext>` (base64url): the key is derived from GATEWAY_SECRET with HKDF
 * (RFC 5869), and the tenant's id is the associated data, so a sealed value copied into another
 * tenant's row does not open there. `v1` (a SHA-256 key and no associated data) is only read to
 * re-seal old rows (`resealLegacySettings`).
 */

const HKDF_SALT = 'memory-gateway';
const HKDF_INFO = 'tenant-settings/v2';

const keyCache = new Map<string, Buffer>();
function keyV2(secret: string): Buffer {
  let key = keyCache.get(secret);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
    keyCache.set(secret, key);
  }
  return key;
}

const keyV1 = (secret: string) => createHash('sha256').update(`memory-gateway:settings:${secret}`).digest();

const aadOf = (tenantId: string) => Buffer.from(`tenant:${tenantId}`, 'utf8');

export function seal(secret: string, tenantId: string, settings: Record<string, string>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyV2(secret), iv);
  cipher.setAAD(aadOf(tenantId));
  const data = Buffer.concat([cipher.update(JSON.stringify(settings), 'utf8'), cipher.final()]);
  return ['v2', iv, cipher.getAuthTag(), data].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

export class SealedSettingsError extends Error {}

function decrypt(key: Buffer, aad: Buffer | undefined, iv: string, tag: string, data: string): Record<string, string> {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  return JSON.parse(plain) as Record<string, string>;
}

/** Opens a tenant's sealed settings; fails for another tenant's value or another secret. */
export function open(secret: string, tenantId: string, sealed: string): Record<string, string> {
  const [version, iv, tag, data] = sealed.split('.');
  if (version === 'v1') {
    throw new SealedSettingsError(`tenant ${tenantId} has settings in the old format: start the gateway once to re-seal them`);
  }
  if (version !== 'v2' || !iv || !tag || !data) throw new SealedSettingsError('stored tenant settings are in an unknown format');
  try {
    return decrypt(keyV2(secret), aadOf(tenantId), iv, tag, data);
  } catch {
    throw new SealedSettingsError(
      `stored settings of tenant ${tenantId} cannot be opened: GATEWAY_SECRET differs from the one they were sealed with, or they were sealed for another tenant`,
    );
  }
}

/** Whether a sealed value is in the old, unbound format. */
export const isLegacySealed = (sealed: string) => sealed.startsWith('v1.');

/**
 * Re-seals a `v1` value for its tenant. A v1 value carries no tenant binding, so it is trusted
 * only where it already is: the row it is stored in.
 */
export function resealLegacy(secret: string, tenantId: string, sealed: string): string {
  const [version, iv, tag, data] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || !data) throw new SealedSettingsError('not a v1 sealed value');
  let settings: Record<string, string>;
  try {
    settings = decrypt(keyV1(secret), undefined, iv, tag, data);
  } catch {
    throw new SealedSettingsError(`stored settings of tenant ${tenantId} cannot be opened: GATEWAY_SECRET differs from the one they were sealed with`);
  }
  return seal(secret, tenantId, settings);
}
