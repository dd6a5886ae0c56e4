import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** A principal's budget in the current window, as the X-RateLimit-* headers report it. */
export interface RateLimitState {
  /** Points per window. */
  limit: number;
  remaining: number;
  /** Seconds until the window starts afresh. */
  resetSeconds: number;
}

export interface RateLimitDecision extends RateLimitState {
  allowed: boolean;
}

/**
 * Counts points per key in fixed one-minute windows. `take` is all or nothing: a request that
 * does not fit takes nothing, so one refused large request does not use up the budget of the
 * small ones after it. The in-memory store counts per process; a store backed by Redis
 * (rate-limiter-flexible's RateLimiterRedis through `rateLimitStoreOn`) shares the counts
 * between instances.
 */
export interface RateLimitStore {
  readonly limit: number;
  take(key: string, points: number): Promise<RateLimitDecision>;
  /** Returns points taken earlier (the request was refused by another class's limit). */
  giveBack(key: string, points: number): Promise<void>;
  /** The key's state, taking nothing. */
  peek(key: string): Promise<RateLimitState>;
}

export const RATE_LIMIT_WINDOW_SECONDS = 60;

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** A store on any rate-limiter-flexible limiter (memory, Redis, …) with a one-minute window. */
export function rateLimitStoreOn(limiter: RateLimiterAbstract): RateLimitStore {
  const limit = limiter.points;
  const stateOf = (res: RateLimiterRes): RateLimitState => ({
    limit,
    remaining: Math.max(0, res.remainingPoints),
    resetSeconds: seconds(res.msBeforeNext),
  });
  return {
    limit,
    async take(key, points) {
      try {
        return { allowed: true, ...stateOf(await limiter.consume(key, points)) };
      } catch (rejection) {
        // The library counts a refused consume; undo it so that a refusal takes nothing.
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        const after = await limiter.reward(key, points);
        return { allowed: false, ...stateOf(after) };
      }
    },
    async giveBack(key, points) {
      await limiter.reward(key, points);
    },
    async peek(key) {
      const res = await limiter.get(key);
      return res ? stateOf(res) : { limit, remaining: limit, resetSeconds: RATE_LIMIT_WINDOW_SECONDS };
    },
  };
}

/** Per-process counts: right for one instance, and the fallback when a shared store is down. */
export function memoryRateLimitStore(pointsPerMinute: number): RateLimitStore {
  return rateLimitStoreOn(new RateLimiterMemory({ points: pointsPerMinute, duration: RATE_LIMIT_WINDOW_SECONDS }));
}

/** In-memory stores for the configured limits; a class set to 0 has none (it is not limited). */
export function memoryRateLimitStores(limits: { readsPerMinute: number; writesPerMinute: number }): Partial<Record<'reads' | 'writes', RateLimitStore>> {
  return {
    ...(limits.readsPerMinute > 0 && { reads: memoryRateLimitStore(limits.readsPerMinute) }),
    ...(limits.writesPerMinute > 0 && { writes: memoryRateLimitStore(limits.writesPerMinute) }),
  };
}

/**
 * Stores shared by every instance through Redis (REDIS_URL). While Redis does not answer, each
 * instance counts on its own (rate-limiter-flexible's insurance limiter) and keeps serving; the
 * shared counts resume when Redis is back.
 */
export function redisRateLimitStores(
  redis: Redis,
  limits: { readsPerMinute: number; writesPerMinute: number },
): Partial<Record<'reads' | 'writes', RateLimitStore>> {
  const shared = (rateClass: 'reads' | 'writes', points: number) =>
    rateLimitStoreOn(
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `memory-gateway:rate:${rateClass}`,
        points,
        duration: RATE_LIMIT_WINDOW_SECONDS,
        insuranceLimiter: new RateLimiterMemory({ points, duration: RATE_LIMIT_WINDOW_SECONDS }),
      }),
    );
  return {
    ...(limits.readsPerMinute > 0 && { reads: shared('reads', limits.readsPerMinute) }),
    ...(limits.writesPerMinute > 0 && { writes: shared('writes', limits.writesPerMinute) }),
  };
}
