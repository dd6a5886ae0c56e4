import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MieltoFake } from '../fakes/mielto.js';
import { adminQuery, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { postGraphQL, runCliProcess, startGatewayProcess, type GatewayProcess } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/**
 * Two real gateway processes behind one imaginary load balancer, on one PostgreSQL and one
 * Redis, as README § "Running several instances" sets them up: what one does the other sees, a
 * key revoked with the CLI is refused by both, the write limit is one limit, and either store
 * going away and coming back is survived by both without a restart.
 */

const CREATE = `mutation($m: String!, $u: String!) { createMemory(input: { userId: $u, memory: $m }) { id memory } }`;
const LIST = `query($u: String!) { memories(userId: $u, first: 50) { edges { node { id memory } } } }`;
const DELETE = `mutation($id: ID!) { deleteMemory(memoryId: $id) { memoryId } }`;

const GATEWAY_SECRET = 'two-instances-test-secret-0123456789abcdef';
const DATABASE_TIMEOUT_MS = 1_500;
/** Far above DATABASE_TIMEOUT_MS: a request answered later than this hung. */
const HANG_MS = 20_000;

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

describe('two gateway processes on one PostgreSQL and one Redis', () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let env: Record<string, string>;
  let gateways: GatewayProcess[] = [];

  const cli = async (...args: string[]) => {
    const result = await runCliProcess(args, { DATABASE_URL: env.DATABASE_URL!, GATEWAY_SECRET });
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  };
  const newKey = async (tenant: string): Promise<{ key: string; id: string }> => JSON.parse(await cli('keys', 'create', '--tenant', tenant, '--json'));

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    await adminQuery(postgres.url(), 'CREATE DATABASE gateway');
    env = {
      DATABASE_URL: postgres.url('gateway'),
      REDIS_URL: redis.url,
      DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS),
      GATEWAY_SECRET,
      RATE_LIMIT_WRITES_PER_MIN: '6',
      RATE_LIMIT_READS_PER_MIN: '10000',
    };
    // Started together on an empty database: one applies the migrations, the other waits for it.
    gateways = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  }, 60_000);

  it('a memory written through one is listed and deleted through the other', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    const { key } = await newKey('acme');
    const created = await postGraphQL(a.url, key, CREATE, { u: 'u1', m: 'prefers tea' });
    expect(created.body.errors).toBeUndefined();
    const id: string = created.body.data.createMemory.id;

    const listed = await postGraphQL(b.url, key, LIST, { u: 'u1' });
    expect(listed.body.data.memories.edges).toEqual([{ node: { id, memory: 'prefers tea' } }]);

    expect((await postGraphQL(b.url, key, DELETE, { id })).body.data).toEqual({ deleteMemory: { memoryId: id } });
    expect((await postGraphQL(a.url, key, LIST, { u: 'u1' })).body.data.memories.edges).toEqual([]);
    const again = await postGraphQL(a.url, key, DELETE, { id });
    expect(again.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('a key revoked with the CLI is refused by both within a second', async () => {
    const { key, id } = await newKey('initech');
    for (const gateway of gateways) expect((await postGraphQL(gateway.url, key, LIST, { u: 'u1' })).status).toBe(200);

    expect(await cli('keys', 'revoke', id)).toContain(`Revoked key ${id}`);
    const revokedAt = Date.now();
    for (const gateway of gateways) {
      const refused = await until(
        `${gateway.base} refusing the revoked key`,
        async () => {
          const res = await postGraphQL(gateway.url, key, LIST, { u: 'u1' });
          return res.status === 401 ? res : undefined;
        },
        1_000 - (Date.now() - revokedAt),
        20,
      );
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('a tenant routed elsewhere with the CLI is served from there by both from the next request', async () => {
    const mielto = await new MieltoFake({ apiKeys: ['mielto-key-of-wayne'] }).listen();
    try {
      const { key } = await newKey('wayne');
      const local = await postGraphQL(gateways[0]!.url, key, CREATE, { u: 'u1', m: 'kept locally' });
      expect(local.status).toBe(200);
      mielto.seedMemory('mielto-key-of-wayne', { user_id: 'u1', memory: 'kept at Mielto' });
      for (const gateway of gateways) {
        expect((await postGraphQL(gateway.url, key, LIST, { u: 'u1' })).body.data.memories.edges.map((e: any) => e.node.memory)).toEqual(['kept locally']);
      }

      await cli('tenants', 'set', 'wayne', '--memories', 'mielto', '--mielto-url', mielto.url, '--mielto-api-key', 'mielto-key-of-wayne');
      for (const gateway of gateways) {
        expect((await postGraphQL(gateway.url, key, LIST, { u: 'u1' })).body.data.memories.edges.map((e: any) => e.node.memory)).toEqual(['kept at Mielto']);
      }
    } finally {
      await mielto.close();
    }
  });

  it('with a write limit of 6, three writes through each make the seventh refused on either', async () => {
    const { key } = await newKey('globex');
    for (let round = 0; round < 3; round++) {
      for (const gateway of gateways) {
        const res = await postGraphQL(gateway.url, key, CREATE, { u: 'u1', m: `write ${round}` });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBe('6');
      }
    }
    for (const gateway of gateways) {
      const refused = await postGraphQL(gateway.url, key, CREATE, { u: 'u1', m: 'the seventh' });
      expect(refused.status).toBe(429);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    }
    // Refused writes wrote nothing: six memories, wherever they are listed.
    for (const gateway of gateways) expect((await postGraphQL(gateway.url, key, LIST, { u: 'u1' })).body.data.memories.edges).toHaveLength(6);
  });

  it('Redis stopped: both keep serving with limits of their own and say so once; Redis back: the limit is shared again', async () => {
    const { key } = await newKey('hooli');
    await redis.stop();
    try {
      // Each instance counts on its own meanwhile: six writes through each are all served.
      for (const gateway of gateways) {
        for (let i = 0; i < 6; i++) {
          const res = await postGraphQL(gateway.url, key, CREATE, { u: 'u1', m: `while redis is away ${i}` });
          expect(res.status, JSON.stringify(res.body)).toBe(200);
        }
        expect((await postGraphQL(gateway.url, key, CREATE, { u: 'u1', m: 'seventh here' })).status).toBe(429);
      }
      for (const gateway of gateways) {
        const warnings = gateway.logs().filter((line) => line.msg?.startsWith('Redis unreachable') && line.role === 'rate-limit');
        expect(warnings, gateway.output()).toHaveLength(1);
      }
    } finally {
      await redis.start();
    }
    for (const gateway of gateways) {
      await until('Redis reachable again, in the log', async () => (gateway.output().includes('Redis reachable again') ? true : undefined), 15_000);
    }
    // A fresh principal: counted in Redis again, so 3 + 3 and the seventh is refused on either.
    const { key: fresh } = await newKey('hooli');
    for (let round = 0; round < 3; round++) {
      for (const gateway of gateways) expect((await postGraphQL(gateway.url, fresh, CREATE, { u: 'u2', m: `after ${round}` })).status).toBe(200);
    }
    for (const gateway of gateways) expect((await postGraphQL(gateway.url, fresh, CREATE, { u: 'u2', m: 'seventh' })).status).toBe(429);
  });

  it('PostgreSQL stopped: both answer 503 within seconds and are not ready; PostgreSQL back: both serve again by themselves', async () => {
    const { key } = await newKey('umbrella');
    const written = await postGraphQL(gateways[0]!.url, key, CREATE, { u: 'u1', m: 'before the outage' });
    expect(written.status).toBe(200);

    await postgres.stop();
    try {
      for (const gateway of gateways) {
        const started = Date.now();
        const res = await postGraphQL(gateway.url, key, LIST, { u: 'u1' });
        // Not a speed check: an answer at all, where a gateway without a store timeout hangs.
        expect(Date.now() - started).toBeLessThan(HANG_MS);
        expect(res.status).toBe(503);
        expect(res.body.errors?.[0]).toMatchObject({ message: 'The store is unavailable; try again shortly', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
        expect((await fetch(`${gateway.base}/ready`)).status).toBe(503);
        expect((await fetch(`${gateway.base}/health`)).status).toBe(200);
      }
    } finally {
      await postgres.start();
    }
    for (const gateway of gateways) {
      await until('ready again', async () => ((await fetch(`${gateway.base}/ready`)).status === 200 ? true : undefined), 30_000, 250);
      const listed = await until(
        'serving again',
        async () => {
          const res = await postGraphQL(gateway.url, key, LIST, { u: 'u1' });
          return res.status === 200 ? res : undefined;
        },
        30_000,
        250,
      );
      expect(listed.body.data.memories.edges.map((edge: any) => edge.node.memory)).toEqual(['before the outage']);
    }
    // Neither process restarted.
    for (const gateway of gateways) expect(gateway.child.exitCode).toBeNull();
  });
});
