import { createPubSub, Repeater, SlidingBuffer } from 'graphql-yoga';
import type { BackendName } from '../backends/types.js';

/** The three families of the contract, as the stores name them. */
export type Family = 'userEvents' | 'userMemories' | 'memories';

/**
 * One change made through the gateway: an item created or deleted, or a finished forget (then
 * `id` is the receipt id and `family` is null). Plain JSON (times as ISO strings), so a bus that
 * carries it between instances needs no mapping.
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

/**
 * Where changes are published and whence `memoryChanges` subscribers read them, per tenant.
 * This in-process bus reaches the subscribers of one instance; a bus shared by instances (Redis)
 * implements the same interface and replaces it in app.ts.
 */
export interface ChangeBus {
  publish(change: MemoryChangeEvent): void;
  /** The tenant's changes from now on, until the iterator is returned. */
  subscribe(tenantId: string): AsyncIterableIterator<MemoryChangeEvent>;
}

/**
 * How many unread changes one subscriber may fall behind before the oldest are dropped; a slow
 * client must not hold memory without bound, nor (Repeater's default) make publishing throw.
 */
const SUBSCRIBER_BUFFER = 1000;
const ROUTING_KEY = 'memoryChanges';

/** Changes within one process, on Yoga's `createPubSub`. */
export function inProcessChangeBus(): ChangeBus {
  const target = new EventTarget();
  const pubsub = createPubSub<{ [ROUTING_KEY]: [tenantId: string, change: MemoryChangeEvent] }>({ eventTarget: target as never });
  return {
    publish(change) {
      pubsub.publish(ROUTING_KEY, change.tenantId, change);
    },
    subscribe(tenantId) {
      // createPubSub's own subscribe shares one buffer setting across subscribers, and listens
      // only once the stream is first read; here each subscriber gets its own sliding buffer and
      // listens from the moment it subscribes, so nothing published in between is missed.
      const topic = `${ROUTING_KEY}:${tenantId}`;
      const early: MemoryChangeEvent[] = [];
      let push: ((change: MemoryChangeEvent) => unknown) | undefined;
      const listener = (event: Event) => {
        const change = (event as CustomEvent<MemoryChangeEvent>).detail;
        if (push) push(change);
        else if (early.push(change) > SUBSCRIBER_BUFFER) early.shift();
      };
      target.addEventListener(topic, listener);
      const stopListening = () => target.removeEventListener(topic, listener);
      const changes = new Repeater<MemoryChangeEvent>(async (next, stop) => {
        for (const change of early.splice(0)) void next(change);
        push = next;
        await stop;
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
