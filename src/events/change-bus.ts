import { Repeater, SlidingBuffer } from 'graphql-yoga';
import type { BackendName } from '../backends/types.js';
import type { EventBus } from '../bus.js';

/** The three families of the contract, as the stores name them. */
export type Family = 'userEvents' | 'userMemories' | 'memories';

/**
 * One change made through the gateway: an item created or deleted, or a finished forget (then
 * `id` is the receipt id and `family` is null). Plain JSON (times as ISO strings): it travels
 * between instances on the event bus as it is.
 */
export interface MemoryChangeEvent {
  tenantId: string;
  kind: 'CREATED' | 'DELETED' | 'FORGOTTEN';
  family: Family | null;
  id: string;
  userId: string | null;
  backend: BackendName | null;
  at: string;
  requestId: string;
}

/** Where changes are published and whence `memoryChanges` subscribers read them, per tenant. */
export interface ChangeBus {
  publish(change: MemoryChangeEvent): void;
  /** The tenant's changes from now on, until the iterator is returned or `endAll` is called. */
  subscribe(tenantId: string): AsyncIterableIterator<MemoryChangeEvent>;
  /**
   * Ends every open subscription (their streams complete, so clients reconnect elsewhere) and
   * every later one at once: a draining instance must not wait on streams that never end.
   */
  endAll(): void;
}

/**
 * How many unread changes one subscriber may fall behind before the oldest are dropped; a slow
 * client must not hold memory without bound, nor (Repeater's default) make publishing throw.
 */
const SUBSCRIBER_BUFFER = 1000;
const TOPIC = 'memory:change';

/**
 * Changes on the instance's event bus (src/bus.ts): every instance's subscribers with REDIS_URL,
 * this instance's without it (or while Redis is away).
 */
export function busChangeBus(bus: Pick<EventBus, 'pubsub'>): ChangeBus {
  const open = new Set<() => void>();
  let ended = false;
  return {
    endAll() {
      ended = true;
      for (const end of open) end();
      open.clear();
    },
    publish(change) {
      bus.pubsub.publish(TOPIC, change);
    },
    subscribe(tenantId) {
      // Yoga's subscribe listens only once its stream is first read and shares one buffer
      // setting; here the bus is read at once (nothing published before the subscriber's first
      // read is missed) into a sliding buffer of this subscriber's own.
      const source = bus.pubsub.subscribe(TOPIC);
      const early: MemoryChangeEvent[] = [];
      let push: ((change: MemoryChangeEvent) => unknown) | undefined;
      void (async () => {
        for await (const change of source) {
          if (change.tenantId !== tenantId) continue;
          if (push) void push(change);
          else if (early.push(change) > SUBSCRIBER_BUFFER) early.shift();
        }
      })();
      const stopListening = () => void source.return?.();
      const changes = new Repeater<MemoryChangeEvent>(async (next, stop) => {
        if (ended) stop();
        const end = () => stop();
        open.add(end);
        for (const change of early.splice(0)) void next(change);
        push = next;
        await stop;
        open.delete(end);
        stopListening();
      }, new SlidingBuffer(SUBSCRIBER_BUFFER));
      return {
        next: () => changes.next(),
        // A subscriber that ends before reading anything never starts the repeater: stop listening here too.
        return: (value?: unknown) => {
          stopListening();
          return changes.return(value as never);
        },
        throw: (error?: unknown) => {
          stopListening();
          return changes.throw(error);
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    },
  };
}
