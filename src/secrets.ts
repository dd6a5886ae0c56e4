import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Tenant settings (upstream credentials and ids) are stored sealed with AES-256-GCM under a key
 * derived from GATEWAY_SECRET. The format is `v1.<iv>.<tag>.<ciphertext>` (base64url), so the
 * scheme can change later without ambiguity.
 */

const keyFrom = (secret: string) => createHash('sha256').update(`memory-gateway:settings:${secret}`).digest();

export function seal(secret: string, settings: Record<string, string>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFrom(secret), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(settings), 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), data].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

export class SealedSettingsError extends Error {}

export function open(secret: string, sealed: string): Record<string, string> {
  const [version, iv, tag, data] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || !data) throw new SealedSettingsError('stored tenant settings are in an unknown format');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(secret), Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as Record<string, string>;
  } catch {
    throw new SealedSettingsError('stored tenant settings cannot be opened: GATEWAY_SECRET differs from the one they were sealed with');
  }
}
