import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { PrismaClient } from '../generated/prisma/client.js';
import { open, seal } from '../secrets.js';

/**
 * Forget receipts are signed with Ed25519 over the RFC 8785 canonical JSON of what the receipt
 * states (ids, times, status, counts — never memory content), so anyone with the gateway's
 * public key can check a receipt offline, byte for byte.
 */

export const RECEIPT_ALGORITHM = 'Ed25519';
export const RECEIPT_PAYLOAD_TYPE = 'memory-gateway/forget-receipt';

/** One family's part of a receipt, as signed (enum names as the API spells them). */
export interface SignedPart {
  family: string;
  backend: string;
  status: string;
  found: number;
  deleted: number;
  failed: number;
  attempts: number;
  verifiedAbsent: boolean;
}

/** Everything a final receipt vouches for. */
export interface ReceiptPayload {
  type: typeof RECEIPT_PAYLOAD_TYPE;
  version: 1;
  algorithm: typeof RECEIPT_ALGORITHM;
  keyId: string;
  receiptId: string;
  tenant: string;
  userId: string;
  actor: string;
  dryRun: boolean;
  status: string;
  requestedAt: string;
  finishedAt: string;
  parts: SignedPart[];
}

export interface PublicSigningKey {
  algorithm: typeof RECEIPT_ALGORITHM;
  publicKeyPem: string;
  keyId: string;
}

export interface ReceiptSigner {
  publicKey(): Promise<PublicSigningKey>;
  /** Signs the payload (its `keyId`, `algorithm`, `type` and `version` are filled in here). */
  sign(payload: Omit<ReceiptPayload, 'keyId' | 'algorithm' | 'type' | 'version'>): Promise<{ signedPayload: string; signature: string }>;
}

/** A short, stable name of a public key: base64url SHA-256 of its DER (SPKI) encoding. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 16);
}

/** Parses a PEM Ed25519 private key; throws with a readable message otherwise. */
export function parseSigningKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return key;
}

/** The stored key's row id, and the associated data its sealed form is bound to (no tenant id can contain "@"). */
const STORED_KEY_ID = 'default';
const SEAL_BINDING = '@receipt-signing-key';

export function createReceiptSigner(deps: { prisma: PrismaClient; configuredKey?: string; gatewaySecret?: string }): ReceiptSigner {
  const { prisma, configuredKey, gatewaySecret } = deps;
  let loaded: Promise<{ privateKey: KeyObject; publicKey: PublicSigningKey }> | undefined;

  const describe = (privateKey: KeyObject) => {
    const publicKey = createPublicKey(privateKey);
    return {
      privateKey,
      publicKey: { algorithm: RECEIPT_ALGORITHM, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(publicKey) } as const,
    };
  };

  const fromStored = (stored: string) => {
    if (stored.startsWith('-----BEGIN')) return parseSigningKey(stored);
    if (!gatewaySecret) throw new Error('the stored receipt signing key is sealed with GATEWAY_SECRET, which is not set');
    return parseSigningKey(open(gatewaySecret, SEAL_BINDING, stored).pem!);
  };

  /** The configured key, else the stored one, else a new one kept in the store (the first instance to store it wins). */
  async function load() {
    if (configuredKey) return describe(parseSigningKey(configuredKey));
    const existing = await prisma.receiptSigningKey.findUnique({ where: { id: STORED_KEY_ID } });
    if (existing) return describe(fromStored(existing.privateKey));
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const described = describe(privateKey);
    try {
      await prisma.receiptSigningKey.create({
        data: {
          id: STORED_KEY_ID,
          keyId: described.publicKey.keyId,
          privateKey: gatewaySecret ? seal(gatewaySecret, SEAL_BINDING, { pem }) : pem,
          publicKeyPem: described.publicKey.publicKeyPem,
        },
      });
      return described;
    } catch (error) {
      // Another instance stored its key first: sign with that one, so every receipt verifies with one key.
      const winner = await prisma.receiptSigningKey.findUnique({ where: { id: STORED_KEY_ID } });
      if (!winner) throw error;
      return describe(fromStored(winner.privateKey));
    }
  }

  const key = () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };

  return {
    async publicKey() {
      return (await key()).publicKey;
    },
    async sign(fields) {
      const { privateKey, publicKey } = await key();
      const payload: ReceiptPayload = { type: RECEIPT_PAYLOAD_TYPE, version: 1, algorithm: RECEIPT_ALGORITHM, keyId: publicKey.keyId, ...fields };
      const signedPayload = canonicalize(payload)!;
      const signature = sign(null, Buffer.from(signedPayload, 'utf8'), privateKey).toString('base64');
      return { signedPayload, signature };
    },
  };
}

/**
 * The public key receipts of this gateway verify with, for the CLI: from RECEIPT_SIGNING_KEY
 * when set, else the one the server generated and stored. Never generates one.
 */
export async function publicKeyForVerifying(prisma: PrismaClient, configuredKey?: string): Promise<string> {
  if (configuredKey) return createPublicKey(parseSigningKey(configuredKey)).export({ type: 'spki', format: 'pem' }).toString();
  const stored = await prisma.receiptSigningKey.findUnique({ where: { id: STORED_KEY_ID }, select: { publicKeyPem: true } });
  if (!stored) throw new Error('this gateway has signed no receipt yet (no signing key in the store); pass --public-key <file>');
  return stored.publicKeyPem;
}

export type Verification =
  | { valid: true; receiptId: string; status: string; keyId: string; tenant: string; userId: string; dryRun: boolean }
  | { valid: false; reason: string };

/** Receipt fields that must say what the signed payload says, where a receipt shows them. */
const TOP_FIELDS: [receiptField: string, payloadField: keyof ReceiptPayload][] = [
  ['id', 'receiptId'],
  ['userId', 'userId'],
  ['actor', 'actor'],
  ['dryRun', 'dryRun'],
  ['status', 'status'],
  ['requestedAt', 'requestedAt'],
  ['finishedAt', 'finishedAt'],
];
const PART_FIELDS = ['family', 'backend', 'status', 'found', 'deleted', 'failed', 'attempts', 'verifiedAbsent'] as const;

/** The receipt object in a file: the receipt itself, or a GraphQL response / `data` holding one. */
export function findReceipt(document: unknown): Record<string, unknown> | undefined {
  if (!document || typeof document !== 'object') return undefined;
  const value = document as Record<string, unknown>;
  if ('signedPayload' in value || 'signature' in value) return value;
  for (const key of ['data', 'forgetUserReceipt', 'forgetUser']) {
    const found = findReceipt(value[key]);
    if (found) return found;
  }
  return undefined;
}

/**
 * Checks a receipt as `forgetUserReceipt` returns it against a public key: the signature over
 * `signedPayload`, the payload's key id, and that every field the receipt shows agrees with the
 * payload (a receipt whose status or counts were edited fails even though its payload is intact).
 */
export function verifyReceipt(document: unknown, publicKeyPem: string): Verification {
  const receipt = findReceipt(document);
  if (!receipt) return { valid: false, reason: 'no forget receipt (an object with signature and signedPayload) in the file' };
  const { signature, signedPayload } = receipt;
  if (typeof signature !== 'string' || typeof signedPayload !== 'string') {
    return { valid: false, reason: 'the receipt is not signed (it is not final yet: poll forgetUserReceipt until its status is not RUNNING)' };
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(publicKeyPem);
  } catch {
    return { valid: false, reason: 'the public key is not a PEM public key' };
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') return { valid: false, reason: 'the public key is not an Ed25519 key' };
  const ok = verify(null, Buffer.from(signedPayload, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
  if (!ok) {
    // Which key the payload names is unproven here, but it tells a receipt of another gateway (or
    // another key) from an edited one.
    const named = keyNamedIn(signedPayload);
    const ours = keyIdOf(publicKey);
    if (named && named !== ours) {
      return { valid: false, reason: `the receipt names key ${named}, not this key (${ours}); verify it with that gateway's key (--public-key)` };
    }
    return { valid: false, reason: 'the signature does not match the signed payload: the receipt was changed after signing' };
  }

  let payload: ReceiptPayload;
  try {
    payload = JSON.parse(signedPayload) as ReceiptPayload;
  } catch {
    return { valid: false, reason: 'the signed payload is not JSON' };
  }
  if (payload.type !== RECEIPT_PAYLOAD_TYPE) return { valid: false, reason: 'the signed payload is not a forget receipt' };
  if (payload.keyId !== keyIdOf(publicKey)) return { valid: false, reason: `the receipt names key ${payload.keyId}, not this key (${keyIdOf(publicKey)})` };
  for (const [field, signed] of TOP_FIELDS) {
    if (field in receipt && receipt[field] !== payload[signed]) {
      return { valid: false, reason: `the receipt's ${field} (${JSON.stringify(receipt[field])}) differs from the signed ${JSON.stringify(payload[signed])}` };
    }
  }
  if (Array.isArray(receipt.parts)) {
    if (receipt.parts.length !== payload.parts.length) return { valid: false, reason: 'the receipt has other parts than the signed payload' };
    for (const [index, part] of (receipt.parts as Record<string, unknown>[]).entries()) {
      const signedPart = payload.parts[index]!;
      for (const field of PART_FIELDS) {
        if (part && field in part && part[field] !== signedPart[field]) {
          return { valid: false, reason: `part ${index + 1}'s ${field} (${JSON.stringify(part[field])}) differs from the signed ${JSON.stringify(signedPart[field])}` };
        }
      }
    }
  }
  return {
    valid: true,
    receiptId: payload.receiptId,
    status: payload.status,
    keyId: payload.keyId,
    tenant: payload.tenant,
    userId: payload.userId,
    dryRun: payload.dryRun,
  };
}

function keyNamedIn(signedPayload: string): string | undefined {
  try {
    const keyId = (JSON.parse(signedPayload) as Partial<ReceiptPayload>).keyId;
    return typeof keyId === 'string' ? keyId : undefined;
  } catch {
    return undefined;
  }
}
