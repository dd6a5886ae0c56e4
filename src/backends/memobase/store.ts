import { AppError, notFound, notSupported } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { unexpectedStatus, type UpstreamClient, type UpstreamResponse } from '../http.js';
import type { CallOptions, Connection, UserEventDTO, UserEventStore } from '../types.js';
import { Envelope, fromMicros, toMicros, UserEventsData, type MemobaseUserEvent } from './schemas.js';

/**
 * User events proxied to Memobase (../shared/upstreams/README.md §1). Memobase only knows
 * "the newest `topk` events of a user created in the last 21 days" (§1.3): there is no cursor,
 * and events older than 21 days are not returned at all, so they are not listed here either.
 * It has no endpoint to create an event (§1.5).
 */

const PROVIDER = 'memobase';
const CURSOR = 'memobase:userEvents';

/**
 * The largest `topk` asked for. A page is cut from the top of one answer, so a list reaches the
 * newest MAX_TOPK events of a user; past them it ends (hasNextPage false). Memobase sets no
 * upper bound (§1.3); this one keeps a deep page at a few hundred kB of upstream JSON.
 */
export const MAX_TOPK = 1000;

/**
 * The position of the last edge of a page: its keyset (created_at to the microsecond, id) and
 * how many events the list held up to it. The keyset needs no row to exist, so the cursor
 * survives the deletion of its event; `n` only sizes the next `topk`, and the keyset decides
 * what comes next, so newer events arriving in between shift nothing.
 */
interface EventKey extends Record<string, unknown> {
  t: string;
  id: string;
  n: number;
}

const isEventKey = (v: Record<string, unknown>): v is EventKey =>
  typeof v.t === 'string' &&
  toMicros(v.t) !== undefined &&
  typeof v.id === 'string' &&
  typeof v.n === 'number' &&
  Number.isInteger(v.n) &&
  v.n >= 0;

interface Positioned {
  micros: number;
  id: string;
  dto: UserEventDTO;
}

/** Newest first; equal timestamps by id descending, the same order as the local store. */
const newestFirst = (a: { micros: number; id: string }, b: { micros: number; id: string }) =>
  b.micros - a.micros || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

function unexpectedResponse(response: Pick<UpstreamResponse, 'status'>): AppError {
  // Never the body or the parser's message: either may echo upstream data.
  return new AppError('UPSTREAM_ERROR', `${PROVIDER} sent a response the gateway does not understand`, {
    provider: PROVIDER,
    upstreamStatus: response.status,
  });
}

/**
 * Application errors arrive as HTTP 200 with `errno` ≠ 0 (§1.2); only the auth middleware (401)
 * and request validation (422) use real statuses. Returns the envelope's `data` on errno 0.
 */
function unwrap(response: UpstreamResponse, what: string): unknown {
  if (response.status !== 200) throw unexpectedStatus(PROVIDER, response);
  const envelope = Envelope.safeParse(response.body);
  if (!envelope.success) throw unexpectedResponse(response);
  const { errno, data } = envelope.data;
  if (errno === 0) return data;
  if (errno === 404) throw notFound(what);
  throw new AppError('UPSTREAM_ERROR', `${PROVIDER} refused the request (errno ${errno})`, { provider: PROVIDER, upstreamStatus: errno });
}

function toDTO(userId: string, event: MemobaseUserEvent): UserEventDTO {
  const data = event.event_data;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    id: event.id,
    userId,
    eventTip: data?.event_tip ?? null,
    eventTags: (data?.event_tags ?? []).map(({ tag, value }) => ({ tag, value })),
    profileDelta: (data?.profile_delta ?? []).map((delta) => ({
      content: delta.content,
      topic: text(delta.attributes?.topic),
      subTopic: text(delta.attributes?.sub_topic),
    })),
    createdAt: new Date(Math.floor(event.created_at / 1000)),
    updatedAt: new Date(Math.floor((event.updated_at ?? event.created_at) / 1000)),
    backend: PROVIDER,
  };
}

export function memobaseUserEventStore(client: UpstreamClient): UserEventStore {
  const userPath = (userId: string) => `/users/event/${encodeURIComponent(userId)}`;

  /** The newest `topk` events of the user, in list order. */
  async function newest(userId: string, topk: number, options?: CallOptions): Promise<Positioned[]> {
    // No max_token_size: it would cut the answer by token count, below topk (§1.3).
    const response = await client.request({ method: 'GET', path: userPath(userId), route: '/users/event/{userId}', query: { topk }, signal: options?.signal });
    const parsed = UserEventsData.safeParse(unwrap(response, `Events of user ${userId}`));
    if (!parsed.success) throw unexpectedResponse(response);
    return parsed.data.events
      .map((event) => ({ micros: event.created_at, id: event.id, dto: toDTO(userId, event) }))
      .sort(newestFirst);
  }

  return {
    backend: PROVIDER,

    async list({ userId, first, after }, options) {
      const key = after ? decodeCursor(CURSOR, after, isEventKey) : undefined;
      const position = key ? { micros: toMicros(key.t)!, id: key.id } : undefined;
      // Enough for the events up to the cursor, the page and one more to learn whether more follow.
      let topk = Math.min(MAX_TOPK, (key?.n ?? 0) + first + 1);

      for (;;) {
        const events = await newest(userId, topk, options);
        const full = events.length >= topk;
        const capped = topk >= MAX_TOPK;
        const start = position ? events.findIndex((e) => newestFirst(e, position) > 0) : 0;
        const rest = start < 0 ? [] : events.slice(start);
        const slice = rest.slice(0, first);
        const more = rest.length > first;
        // A full answer may have cut a group of events with the same created_at anywhere, since
        // Memobase orders by created_at alone: the page is settled only when it ends strictly
        // before the oldest created_at of the answer (which then also proves a next page).
        if (!full || capped || (more && slice.at(-1)!.micros > events.at(-1)!.micros)) {
          return page(slice, start, more);
        }
        // Short because the answer was cut (newer events arrived, or ties at the edge): ask for more.
        topk = Math.min(MAX_TOPK, topk * 2);
      }
    },

    async create() {
      // Memobase derives events from inserted chats (§1.5); nothing is sent or stored.
      throw notSupported(PROVIDER, 'creating user events (Memobase derives them from conversations)');
    },

    async delete(userId, eventId, options) {
      const response = await client.request({
        method: 'DELETE',
        path: `${userPath(userId)}/${encodeURIComponent(eventId)}`,
        route: '/users/event/{userId}/{eventId}',
        signal: options?.signal,
      });
      try {
        unwrap(response, `User event ${eventId}`);
      } catch (error) {
        // Deletes are idempotent by id. When an earlier attempt of this same call failed in a way
        // that may have reached Memobase (connection dropped after sending, 502/503/504), a
        // "not found" now most likely means that attempt deleted it: report the delete as done.
        if (error instanceof AppError && error.code === 'NOT_FOUND' && response.mayHaveApplied) return;
        throw error;
      }
    },
  };
}

function page(events: Positioned[], offset: number, hasNextPage: boolean): Connection<UserEventDTO> {
  const edges = events.map((e, i) => ({
    cursor: encodeCursor(CURSOR, { t: fromMicros(e.micros), id: e.id, n: offset + i + 1 }),
    node: e.dto,
  }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
