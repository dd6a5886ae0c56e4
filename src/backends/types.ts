/**
 * The ports: what the gateway asks of wherever a family's data lives. Shaped by the domain
 * ("list this user's events", "delete this memory"), not by REST or by Prisma. Adapters map
 * their own shapes to these plain DTOs at their edge.
 */

export type BackendName = 'local' | 'memobase' | 'datagrid' | 'cortex' | 'mielto';

export interface EventTagDTO {
  tag: string;
  value: string;
}

export interface ProfileDeltaDTO {
  content: string;
  topic: string | null;
  subTopic: string | null;
}

export interface UserEventDTO {
  id: string;
  userId: string;
  eventTip: string | null;
  eventTags: EventTagDTO[];
  profileDelta: ProfileDeltaDTO[];
  createdAt: Date;
  updatedAt: Date;
  backend: BackendName;
}

export interface UserMemoryDTO {
  id: string;
  content: string;
  userId: string | null;
  agentId: string | null;
  userPrompt: string | null;
  context: string[];
  subTenantId: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  backend: BackendName;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface MemoryDTO {
  id: string;
  userId: string;
  memory: string;
  topics: string[];
  metadata: JsonValue | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  backend: BackendName;
}

/** A Relay connection, as every list returns it. */
export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export interface PageArgs {
  /** 1..100, already validated. */
  first: number;
  /** An opaque cursor from a previous page of the same list. */
  after?: string | null;
}

/**
 * The first page of each of many users' lists, in the order of `userIds`. Federation resolves
 * `User` entities in bulk; a store that can read many users at once offers this, and the
 * gateway calls `list` once per user for stores that do not (src/loaders.ts).
 */
export type ListForUsers<T> = (userIds: readonly string[], args: PageArgs, options?: CallOptions) => Promise<Connection<T>[]>;

/** Per-call options every store method receives. */
export interface CallOptions {
  /** Aborted when the client goes away; adapters pass it to every upstream call. */
  signal?: AbortSignal;
}

export interface UserEventStore {
  readonly backend: BackendName;
  list(args: PageArgs & { userId: string }, options?: CallOptions): Promise<Connection<UserEventDTO>>;
  listForUsers?: ListForUsers<UserEventDTO>;
  create(
    userId: string,
    input: { eventTip: string | null; eventTags: EventTagDTO[]; profileDelta: ProfileDeltaDTO[] },
    options?: CallOptions,
  ): Promise<UserEventDTO>;
  /** Deletes permanently; throws NOT_FOUND when the event is not there for this user. */
  delete(userId: string, eventId: string, options?: CallOptions): Promise<void>;
}

export interface UserMemoryFilter {
  userId?: string | null;
  agentId?: string | null;
  subTenantId?: string | null;
}

export interface UserMemoryStore {
  readonly backend: BackendName;
  list(args: PageArgs & UserMemoryFilter, options?: CallOptions): Promise<Connection<UserMemoryDTO>>;
  listForUsers?: ListForUsers<UserMemoryDTO>;
  add(
    input: {
      content: string;
      userId: string | null;
      agentId: string | null;
      userPrompt: string | null;
      context: string[];
      subTenantId: string | null;
    },
    options?: CallOptions,
  ): Promise<UserMemoryDTO>;
  /**
   * Deletes permanently; throws NOT_FOUND when absent. `ownerUserId`, when given, limits the
   * delete to memories of that user (end-user tokens).
   */
  delete(
    userMemoryId: string,
    scope: { subTenantId?: string | null; ownerUserId?: string | null },
    options?: CallOptions,
  ): Promise<void>;
}

export interface MemoryFilter {
  userId?: string | null;
  workspaceId?: string | null;
}

export interface MemoryStore {
  readonly backend: BackendName;
  list(args: PageArgs & MemoryFilter, options?: CallOptions): Promise<Connection<MemoryDTO>>;
  listForUsers?: ListForUsers<MemoryDTO>;
  create(
    input: { userId: string; memory: string; topics: string[]; metadata: JsonValue | null },
    scope: { workspaceId?: string | null },
    options?: CallOptions,
  ): Promise<MemoryDTO>;
  /** Deletes permanently and returns the provider's message; throws NOT_FOUND when absent. */
  delete(memoryId: string, scope: MemoryFilter, options?: CallOptions): Promise<{ message: string }>;
}

export interface Stores {
  readonly userEvents: UserEventStore;
  readonly userMemories: UserMemoryStore;
  readonly memories: MemoryStore;
}
