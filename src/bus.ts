import { randomUUID } from 'node:crypto';
import { createPubSub, type PubSub } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { MemoryChangeEvent } from './events/change-bus.js';
import { createRedisClient, redisReachable, type Redis } from './redis.js';

/**
 * What must reach every instance of the gateway. Payloads travel as JSON between instances, so
 * they are plain JSON values (a Date arrives as its ISO string).
 */
export type BusTopics = {
  /** Something an instance may hold in memory changed: an API key revoked, a tenant's routing or settings. */
  'cache:invalidate': [{ kind: string; id: string }];
  /**
   * Published locally (never sent) when Redis is back after being away: events of other
   * instances may have been missed meanwhile, so whatever they would have invalidated must go.
   */
  'bus:resync': [{ at: string }];
  /** A change made through the gateway, for `memoryChanges` subscribers (src/events/change-bus.ts). */
  'memory:change': [MemoryChangeEvent];
};

export interface EventBus<Topics extends Record<string, [unknown]> = BusTopics> {
  /** Yoga's PubSub: `publish(topic, payload)`, `subscribe(topic)` (an async iterator, also for GraphQL subscriptions). */
  readonly pubsub: PubSub<Topics>;
  /** Whether events reach the other instances right now (always false without REDIS_URL). */
  shared(): boolean;
  close(): Promise<void>;
}

/** The Redis channel every instance publishes to and listens on. */
export const BUS_CHANNEL = 'memory-gateway:bus';

interface Envelope {
  /** The instance that published it: its own events reach it locally, not again through Redis. */
  origin: string;
  topic: string;
  payload: unknown;
}

/**
 * An EventTarget that delivers to this instance's listeners at once and, through Redis, to
 * every other instance. Local delivery never depends on Redis, so with Redis away each instance
 * keeps its own events; what others publish meanwhile is lost (then `bus:resync`).
 *
 * Not @graphql-yoga/redis-event-target: it delivers even local events only through Redis (so an
 * outage silences the instance itself), and it neither awaits nor catches its publish and
 * subscribe calls, which become unhandled rejections when Redis is away.
 */
class SharedEventTarget extends EventTarget {
  readonly #origin = randomUUID();
  #lost = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    logger: Logger,
  ) {
    super();
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== BUS_CHANNEL) return;
      let envelope: Envelope;
      try {
        envelope = JSON.parse(message) as Envelope;
      } catch {
        logger.warn({ channel }, 'ignored a bus message that is not JSON');
        return;
      }
      if (envelope.origin === this.#origin || typeof envelope.topic !== 'string') return;
      super.dispatchEvent(new CustomEvent(envelope.topic, { detail: envelope.payload }));
    });
    subscriber.on('close', () => {
      this.#lost = true;
    });
    subscriber.on('ready', () => {
      if (!this.#lost) return;
      this.#lost = false;
      super.dispatchEvent(new CustomEvent('bus:resync', { detail: { at: new Date().toISOString() } }));
    });
    // ioredis subscribes again by itself after every reconnection; until the first connection
    // the subscription waits in the subscriber's offline queue.
    subscriber.subscribe(BUS_CHANNEL).catch((error: unknown) => {
      // Closed before Redis was ever reached: nothing to report.
      if (subscriber.status !== 'end') logger.warn({ reason: String(error) }, 'bus subscription failed');
    });
  }

  override dispatchEvent(event: Event): boolean {
    const delivered = super.dispatchEvent(event);
    const envelope: Envelope = { origin: this.#origin, topic: event.type, payload: (event as CustomEvent).detail };
    // Fails at once while Redis is away (no offline queue); createRedisClient has said so once.
    this.publisher.publish(BUS_CHANNEL, JSON.stringify(envelope)).catch(() => undefined);
    return delivered;
  }
}

/**
 * The event bus of this instance: in memory without REDIS_URL, shared by every instance through
 * Redis with it. Two connections (publishing and subscribing: a subscribed Redis connection
 * does nothing else), each reconnecting by itself.
 */
export function createEventBus(config: Pick<Config, 'redisUrl'>, logger: Logger): EventBus {
  const publisher = createRedisClient(config, { role: 'bus', logger });
  const subscriber = createRedisClient(config, { role: 'bus-subscriber', offlineQueue: true });
  if (!publisher || !subscriber) {
    return { pubsub: createPubSub<BusTopics>(), shared: () => false, close: async () => undefined };
  }
  const eventTarget = new SharedEventTarget(publisher, subscriber, logger);
  return {
    pubsub: createPubSub<BusTopics>({ eventTarget }),
    shared: () => redisReachable(publisher) && redisReachable(subscriber),
    async close() {
      // disconnect(), not quit(): quit waits for an answer Redis may never give when it is away.
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
