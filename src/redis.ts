import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config.js';

export type { Redis };

export interface RedisClientOptions {
  /** What the connection is for (`bus`, `bus-subscriber`, `rate-limit`): named in logs and in Redis's CLIENT LIST. */
  role: string;
  /** Told once when Redis becomes unreachable and once when it is back; nothing is logged per failed command. */
  logger?: Logger;
  /**
   * Queue commands while disconnected until Redis is back (default false: they fail at once, so
   * callers fall back to per-instance behaviour instead of waiting). Subscriptions need it.
   */
  offlineQueue?: boolean;
}

/**
 * A Redis client for REDIS_URL, or undefined when it is not set (one instance: everything stays
 * in the process). It connects in the background, never gives up reconnecting (at most every
 * two seconds), and fails commands fast while Redis is away — what rate-limiter-flexible's
 * RateLimiterRedis asks of an ioredis client (`enableOfflineQueue: false`), so its insurance
 * limiter takes over per instance.
 */
export function createRedisClient(config: Pick<Config, 'redisUrl'>, options: RedisClientOptions): Redis | undefined {
  if (!config.redisUrl) return undefined;
  const { role, logger, offlineQueue = false } = options;
  const client = new Redis(config.redisUrl, {
    connectionName: `memory-gateway:${role}`,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
    enableOfflineQueue: offlineQueue,
    // Queued commands (offlineQueue) wait for the connection however long it takes; others fail.
    maxRetriesPerRequest: offlineQueue ? null : 1,
  });
  let unreachable = false;
  const lost = (reason: string) => {
    if (unreachable) return;
    unreachable = true;
    logger?.warn({ role, reason }, 'Redis unreachable: events and limits are per instance until it is back; reconnecting');
  };
  // Without an 'error' listener ioredis prints every failed reconnection attempt to stderr. A
  // Redis that shuts down cleanly raises no error, only a reconnection.
  client.on('error', (error: Error) => lost(error.message));
  client.on('reconnecting', () => lost('connection closed'));
  client.on('ready', () => {
    if (!unreachable) return;
    unreachable = false;
    logger?.info({ role }, 'Redis reachable again');
  });
  return client;
}

/** Whether the client is connected and ready for commands; for readiness checks and metrics. */
export function redisReachable(client: Redis): boolean {
  return client.status === 'ready';
}
