import DataLoader from 'dataloader';
import type { CallOptions, Connection, ListForUsers, MemoryDTO, PageArgs, Stores, UserEventDTO, UserMemoryDTO } from './backends/types.js';

/**
 * Per-request loaders for the lists of many users at once, as federation's `_entities` asks for
 * them: every `User` of one `_entities` call that selects `memories(first: 5)` is one key of the
 * same loader, so the store is asked once for all of them. Built fresh for each request
 * (server.ts), so nothing is cached across requests or tenants.
 */
export interface UserListLoaders {
  userEvents(page: PageArgs): DataLoader<string, Connection<UserEventDTO>>;
  userMemories(page: PageArgs): DataLoader<string, Connection<UserMemoryDTO>>;
  memories(page: PageArgs): DataLoader<string, Connection<MemoryDTO>>;
}

export interface UserListLoaderOptions {
  /** Upstream calls in flight at once for stores without a batched read. */
  concurrency?: number;
  /** Users per batched read; bounds the size of one SQL statement (bound parameters). */
  maxBatchSize?: number;
}

/** Few enough not to trip a provider's rate limit from one request; enough to overlap latency. */
export const DEFAULT_UPSTREAM_CONCURRENCY = 4;
/** Far below SQLite's (32766) and PostgreSQL's (65535) bound-parameter limits. */
export const DEFAULT_MAX_BATCH_SIZE = 500;

interface PerUserList<T> {
  list(args: PageArgs & { userId: string }, options?: CallOptions): Promise<Connection<T>>;
  listForUsers?: ListForUsers<T>;
}

export function createUserListLoaders(stores: Stores, call: CallOptions, options: UserListLoaderOptions = {}): UserListLoaders {
  const concurrency = options.concurrency ?? DEFAULT_UPSTREAM_CONCURRENCY;
  const maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  const loaders = new Map<string, DataLoader<string, Connection<unknown>>>();

  // One loader per family and page arguments: users asked for with the same page share a batch.
  // The store is read from `stores` only here, so a family nobody asks for is never built.
  const loaderFor = <T>(family: keyof Stores, page: PageArgs, storeOf: () => PerUserList<T>): DataLoader<string, Connection<T>> => {
    const key = JSON.stringify([family, page.first, page.after ?? null]);
    let loader = loaders.get(key);
    if (!loader) {
      const store = storeOf();
      loader = new DataLoader<string, Connection<T>>((userIds) => listPerUser(store, userIds, page, call, concurrency), {
        maxBatchSize: store.listForUsers ? maxBatchSize : Infinity,
      }) as DataLoader<string, Connection<unknown>>;
      loaders.set(key, loader);
    }
    return loader as DataLoader<string, Connection<T>>;
  };

  return {
    userEvents: (page) => loaderFor('userEvents', page, () => stores.userEvents),
    userMemories: (page) => loaderFor('userMemories', page, () => stores.userMemories),
    memories: (page) => loaderFor('memories', page, () => stores.memories),
  };
}

/**
 * One batched read when the store offers it; otherwise one `list` per user (DataLoader has
 * already removed duplicate ids), `concurrency` at a time. A user whose read fails gets that
 * error on its own field; the other users still get their lists.
 */
async function listPerUser<T>(
  store: PerUserList<T>,
  userIds: readonly string[],
  page: PageArgs,
  call: CallOptions,
  concurrency: number,
): Promise<(Connection<T> | Error)[]> {
  if (store.listForUsers) return store.listForUsers(userIds, page, call);
  return mapBounded(userIds, concurrency, (userId) =>
    store.list({ ...page, userId }, call).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
  );
}

/** Maps with at most `limit` calls in flight; results keep the order of `items`. */
export async function mapBounded<I, O>(items: readonly I[], limit: number, fn: (item: I) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
