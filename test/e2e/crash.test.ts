import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createPrisma } from '../../src/db.js';
import { MieltoFake } from '../fakes/mielto.js';
import { killGatewayProcesses, startGatewayProcess, type GatewayProcess } from '../helpers/processes.js';

/**
 * kill -9 in the middle of deletes, with real gateway processes on a real SQLite file: after a
 * restart every item is either present or deleted with a `deleted` audit record, and nothing is
 * left `pending` (contract § Guarantees).
 */

const MIELTO_KEY = 'mielto-key-crash-test';

const dirs: string[] = [];
afterEach(async () => {
  await killGatewayProcesses();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `node src/main.ts` (through tsx) on `dbFile`, as `npm start` runs the built one. */
function startProcess(dbFile: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  return startGatewayProcess({
    LOG_LEVEL: 'warn',
    DATABASE_URL: `file:${dbFile}`,
    RATE_LIMIT_READS_PER_MIN: '0',
    RATE_LIMIT_WRITES_PER_MIN: '0',
    ...env,
  });
}

async function newDatabase(): Promise<{ file: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-crash-'));
  dirs.push(dir);
  const file = join(dir, 'gateway.db');
  copyFileSync(inject('templateDatabase'), file);
  const prisma = await createPrisma({ databaseUrl: `file:${file}` });
  const { key } = await createApiKey(prisma, 'acme');
  await prisma.$disconnect();
  return { file, key };
}

async function gql(url: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
}

/** What the store holds after the crash, read straight from the file. */
function storeState(file: string, ids: string[]) {
  const db = new Database(file, { readonly: true });
  try {
    const present = new Set(ids.filter((id) => db.prepare('SELECT 1 FROM "Memory" WHERE id = ?').get(id)));
    const records = db.prepare('SELECT "targetId", outcome FROM "DeletionAudit"').all() as { targetId: string; outcome: string }[];
    return {
      present,
      deleted: records.filter((r) => r.outcome === 'deleted').map((r) => r.targetId),
      pending: records.filter((r) => r.outcome === 'pending').length,
    };
  } finally {
    db.close();
  }
}

describe('kill -9 in the middle of deletes', () => {
  it(
    'local: 8 workers deleting 300 memories; after a restart every acknowledged delete is gone and every id is present or audited deleted, never both',
    async () => {
      const { file, key } = await newDatabase();
      const first = await startProcess(file);
      const ids: string[] = [];
      for (let start = 0; start < 300; start += 20) {
        const fields = Array.from({ length: 20 }, (_, i) => `m${i}: createMemory(input: { userId: "u", memory: "memory ${start + i}" }) { id }`);
        const { data } = await gql(first.url, key, `mutation { ${fields.join(' ')} }`);
        ids.push(...Object.values(data as Record<string, { id: string }>).map((m) => m.id));
      }
      expect(ids).toHaveLength(300);

      const acknowledged = new Set<string>();
      let next = 0;
      let killed = false;
      const worker = async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          try {
            const { data } = await gql(first.url, key, `mutation($id: ID!) { deleteMemory(memoryId: $id) { memoryId } }`, { id });
            if (data?.deleteMemory?.memoryId === id) acknowledged.add(id);
          } catch {
            return; // the server is gone
          }
          if (acknowledged.size >= 120 && !killed) {
            killed = true;
            await first.kill();
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      expect(killed).toBe(true);

      const second = await startProcess(file);
      const state = storeState(file, ids);
      for (const id of acknowledged) expect(state.present.has(id), `acknowledged ${id} is still there`).toBe(false);
      const deleted = new Set(state.deleted);
      expect(state.deleted.length).toBe(deleted.size);
      for (const id of ids) expect(state.present.has(id) !== deleted.has(id), `${id}: present=${state.present.has(id)} deleted=${deleted.has(id)}`).toBe(true);
      expect(state.pending).toBe(0);
      expect(deleted.size).toBeGreaterThanOrEqual(acknowledged.size);

      // The restarted gateway serves what is left.
      const left = await gql(second.url, key, `{ memories(first: 100, userId: "u") { edges { node { id } } } }`);
      expect(left.data.memories.edges.length).toBe(Math.min(100, state.present.size));
      await second.kill();
    },
    120_000,
  );

  it(
    'Mielto: deletes hanging at the provider when the gateway dies are settled and audited deleted after a restart',
    async () => {
      const fake = await new MieltoFake({ apiKeys: [MIELTO_KEY] }).listen();
      try {
        const { file, key } = await newDatabase();
        const env = { MEMORIES_BACKEND: 'mielto', MIELTO_URL: fake.url, MIELTO_API_KEY: MIELTO_KEY };
        const first = await startProcess(file, { ...env, UPSTREAM_TIMEOUT_MS: '60000', UPSTREAM_RETRY_BUDGET_MS: '60000' });
        const ids = Array.from({ length: 10 }, (_, i) => fake.seedMemory(MIELTO_KEY, { user_id: 'u', memory: `hanging ${i}` }));
        // Half are applied at the provider before it stops answering, half never get that far.
        fake.slow({ delayMs: 600_000, times: 5, match: /^DELETE / });
        fake.hang({ times: 5, match: /^DELETE / });
        const answers = ids.map((id) =>
          gql(first.url, key, `mutation($id: ID!) { deleteMemory(memoryId: $id, userId: "u") { memoryId } }`, { id }).catch(() => 'gone'),
        );
        const until = Date.now() + 20_000;
        while (fake.requests.filter((r) => r.method === 'DELETE').length < 10 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        expect(storeState(file, []).pending).toBe(10);
        await first.kill();
        expect(await Promise.all(answers)).toEqual(Array(10).fill('gone'));
        fake.resetFaults();

        // Short timeouts: a record older than any call in flight is settled within seconds.
        await startProcess(file, { ...env, UPSTREAM_TIMEOUT_MS: '500', UPSTREAM_RETRY_BUDGET_MS: '500' });
        const settleBy = Date.now() + 30_000;
        let state = storeState(file, []);
        while (state.pending > 0 && Date.now() < settleBy) {
          await new Promise((r) => setTimeout(r, 200));
          state = storeState(file, []);
        }
        expect(state.pending).toBe(0);
        expect(state.deleted.sort()).toEqual([...ids].sort());
        // Every delete the provider had not applied was sent again (the gateway reads a memory
        // before deleting it for a user, and one already gone needs no second DELETE), and the
        // provider holds none of the memories.
        const deletes = fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
        const neverApplied = deletes.slice(5, 10);
        expect(new Set(deletes.slice(10))).toEqual(new Set(neverApplied));
        const listed = fake.requests.length;
        const left = await fetch(`${fake.url}/api/v1/memories?user_id=u`, { headers: { authorization: `Bearer ${MIELTO_KEY}` } });
        expect(((await left.json()) as { memories: unknown[] }).memories).toEqual([]);
        expect(fake.requests.length).toBe(listed + 1);
      } finally {
        await fake.close();
      }
    },
    120_000,
  );
});
