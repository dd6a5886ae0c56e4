import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createPrisma } from '../../src/db.js';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { FORGET, finalReceipt, partOf } from '../helpers/forget.js';
import { killGatewayProcesses, startGatewayProcess, type GatewayProcess } from '../helpers/processes.js';
import { waitUntil } from '../helpers/upstream.js';

/**
 * kill -9 of a real gateway process in the middle of a 300-item forget: a second process on the
 * same database takes the job over once its lease has run out, resumes where it was and
 * completes it; every item is gone and audited.
 */

const MIELTO_KEY = 'mielto-key-forget-crash';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  await killGatewayProcesses();
  for (const step of cleanup.splice(0)) await step();
});

/** `node src/main.ts` (through tsx) on `dbFile`, as `npm start` runs the built one. */
function startProcess(dbFile: string, env: Record<string, string>): Promise<GatewayProcess> {
  return startGatewayProcess({ LOG_LEVEL: 'warn', DATABASE_URL: `file:${dbFile}`, ...env });
}

const request = (url: string, key: string) => async (query: string, variables: Record<string, unknown>) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: any; errors?: unknown };
};

/** The user's memories at the fake, read through its own API. */
async function atMielto(fake: MieltoFake, userId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const url = new URL(`${fake.url}/api/v1/memories`);
    url.searchParams.set('user_id', userId);
    url.searchParams.set('limit', '100');
    if (cursor) url.searchParams.set('cursor', cursor);
    const body = (await (await fetch(url, { headers: { authorization: `Bearer ${MIELTO_KEY}` } })).json()) as { memories: { memory_id: string }[]; next_cursor: string | null };
    ids.push(...body.memories.map((m) => m.memory_id));
    cursor = body.next_cursor;
  } while (cursor);
  return ids;
}

describe('forgetUser survives kill -9', () => {
  it('a 300-item forget killed half-way resumes in a new process and completes', async () => {
    const fake = await startMieltoFake({ apiKeys: [MIELTO_KEY] });
    cleanup.push(() => fake.close());
    const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-forget-crash-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'gateway.db');
    copyFileSync(inject('templateDatabase'), file);
    const prisma = await createPrisma({ databaseUrl: `file:${file}` });
    const { key } = await createApiKey(prisma, 'acme');
    await prisma.$disconnect();

    const user = randomUUID();
    const other = randomUUID();
    const ids = Array.from({ length: 300 }, (_, i) => fake.seedMemory(MIELTO_KEY, { user_id: user, memory: `item ${i}` }));
    for (let i = 0; i < 5; i++) fake.seedMemory(MIELTO_KEY, { user_id: other, memory: 'kept' });
    // Deletes answer slowly, so the forget is still deleting when the process dies.
    fake.slow({ times: 10_000, delayMs: 60, match: /^DELETE / });

    const env = { MEMORIES_BACKEND: 'mielto', MIELTO_URL: fake.url, MIELTO_API_KEY: MIELTO_KEY, FORGET_LEASE_MS: '1500' };
    const first = await startProcess(file, env);
    const answer = await request(first.url, key)(FORGET, { u: user });
    const receiptId = answer.data?.forgetUser?.id as string;
    expect(answer.data?.forgetUser?.status, JSON.stringify(answer)).toBe('RUNNING');

    const deletes = () => fake.requests.filter((r) => r.method === 'DELETE').length;
    await waitUntil(() => deletes() >= 60, 60_000);
    await first.kill();
    const left = await atMielto(fake, user);
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(300);

    const second = await startProcess(file, env);
    const receipt = await finalReceipt(request(second.url, key), receiptId, 120_000);
    expect(receipt.status, JSON.stringify(receipt)).toBe('COMPLETED');
    expect(partOf(receipt, 'MEMORIES')).toMatchObject({ backend: 'MIELTO', status: 'COMPLETED', found: 300, deleted: 300, failed: 0, verifiedAbsent: true });
    expect(receipt.signature).toEqual(expect.any(String));

    expect(await atMielto(fake, user)).toEqual([]);
    expect(await atMielto(fake, other)).toHaveLength(5);
    // Every item has its forgetUser record, written by whichever process deleted it.
    const db = new Database(file, { readonly: true });
    try {
      const audited = new Set(
        (db.prepare(`SELECT "targetId" FROM "DeletionAudit" WHERE "operation" = 'forgetUser'`).all() as { targetId: string }[]).map((r) => r.targetId),
      );
      expect(ids.filter((id) => !audited.has(id))).toEqual([]);
      const job = db.prepare('SELECT status, "leaseOwner", "activeKey" FROM "ForgetJob" WHERE id = ?').get(receiptId);
      expect(job).toEqual({ status: 'COMPLETED', leaseOwner: null, activeKey: null });
    } finally {
      db.close();
    }
  }, 300_000);
});
