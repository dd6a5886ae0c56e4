import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/**
 * Two gateways on one Redis (REDIS_URL) share each principal's rate-limit counts: with a write
 * limit of 6 a minute, three writes through each make the seventh refused on either. Without
 * Redis each keeps counting on its own and keeps serving.
 */
describe('rate limits shared through Redis', () => {
  let redis: RedisServer;
  let gateways: TestGateway[] = [];
  let tokens: string[] = [];
  const CREATE = `mutation($m: String!) { createMemory(input: { userId: "u1", memory: $m }) { id } }`;

  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, RATE_LIMIT_WRITES_PER_MIN: '6', RATE_LIMIT_READS_PER_MIN: '1000' };
    gateways = [await startGateway(env), await startGateway(env)];
    // The same tenant on both (each test gateway has a store of its own; the counts are Redis's).
    tokens = await Promise.all(gateways.map((g) => g.createKey('acme')));
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await redis?.destroy();
  });

  it('counts writes through both instances against one limit, and refuses the seventh on either', async () => {
    for (let i = 0; i < 3; i++) {
      for (const [n, gateway] of gateways.entries()) {
        const res = await gateway.execute(CREATE, { m: `write ${i} via ${n}` }, { token: tokens[n] });
        dataOf(res);
        expect(res.headers.get('x-ratelimit-limit')).toBe('6');
      }
    }
    const last = await gateways[0]!.execute(CREATE, { m: 'one too many' }, { token: tokens[0] });
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    for (const [n, gateway] of gateways.entries()) {
      const refused = await gateway.execute(CREATE, { m: 'refused' }, { token: tokens[n] });
      expect(refused.status).toBe(429);
      expect(errorOf(refused).extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    }
  });

  it('keeps serving with per-instance counts while Redis is away', async () => {
    await redis.stop();
    try {
      // Another tenant: a fresh budget, counted by this instance alone while Redis is down.
      const token = await gateways[1]!.createKey('globex');
      dataOf(await gateways[1]!.execute(CREATE, { m: 'while redis is away' }, { token }));
    } finally {
      await redis.start();
    }
  });
});
