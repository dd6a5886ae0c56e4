import { setTimeout as sleep } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type { UpstreamCall, UpstreamGate } from '../backends/gate.js';
import type { ProviderName, UpstreamResponse } from '../backends/http.js';
import { isAppError } from '../errors.js';

/** At most this many calls in flight per provider credential, across every bulk delete and forget of the instance. */
export const MAX_IN_FLIGHT_PER_CREDENTIAL = 8;

/**
 * The window a provider's rate limit is counted in. Datagrid counts per teamspace, path and
 * method (../shared/upstreams/README.md §2.5), with the id of a delete's path not part of the
 * path; the others document no limit, so one window per scope, method and first path segment
 * only carries their 429s' Retry-After over to the calls that follow.
 */
const ROUTE: Partial<Record<ProviderName, (path: string) => string>> = {
  datagrid: (path) => path.replace(/^\/user-memories\/[^/]+$/, '/user-memories/{id}'),
};
const routeOf = (provider: ProviderName, path: string) => ROUTE[provider]?.(path) ?? `/${path.split('/')[1] ?? ''}`;

/** Datagrid's documented default (§2.5), used until its X-RateLimit-* headers say otherwise. */
const DOCUMENTED_LIMIT: Partial<Record<ProviderName, number>> = { datagrid: 200 };

/** What is known of one rate-limit window. */
interface Window {
  /** Calls left, as the provider last said (minus what was sent since); undefined when unknown. */
  remaining: number | undefined;
  /** When the provider said the window frees up again (ms since the epoch). */
  resetAt: number;
  /** No call before this (a 429's Retry-After). */
  blockedUntil: number;
  inFlight: number;
  /** Wakes callers waiting for an answer that may free the window. */
  answered: Set<() => void>;
}

const header = (response: UpstreamResponse, name: string) => {
  const value = Number(response.headers[name]);
  return Number.isFinite(value) ? value : undefined;
};

/**
 * Paces calls to what each provider allows: it reads X-RateLimit-Remaining / X-RateLimit-Reset
 * (Datagrid sends them on every answer) and holds calls back while a window has nothing left,
 * until it resets; a 429 that the client could not ride out blocks the window for its
 * Retry-After. Calls are sent only when the window has room for them next to those in flight,
 * so a long forget meets the limit without a storm of 429s.
 */
export class Pacer {
  private readonly windows = new Map<string, Window>();

  async run(call: UpstreamCall, send: () => Promise<UpstreamResponse>): Promise<UpstreamResponse> {
    const key = `${call.scope}\0${call.method} ${routeOf(call.provider, call.path)}`;
    let window = this.windows.get(key);
    if (!window) {
      window = { remaining: DOCUMENTED_LIMIT[call.provider], resetAt: 0, blockedUntil: 0, inFlight: 0, answered: new Set() };
      this.windows.set(key, window);
    }
    await this.admit(window);
    window.inFlight += 1;
    if (window.remaining !== undefined) window.remaining -= 1;
    try {
      const response = await send();
      const remaining = header(response, 'x-ratelimit-remaining');
      const reset = header(response, 'x-ratelimit-reset');
      if (remaining !== undefined) {
        // The other calls in flight may not have been counted by the provider yet: count them as
        // spent. Answers overtake each other, so within a window an answer can only lower the
        // estimate; once the window has reset, the next answer says how much is left.
        const estimate = remaining - (window.inFlight - 1);
        const fresh = Date.now() >= window.resetAt || window.remaining === undefined;
        window.remaining = fresh ? estimate : Math.min(window.remaining!, estimate);
        if (reset !== undefined) window.resetAt = reset * 1000;
      }
      return response;
    } catch (error) {
      const retryAfter = isAppError(error) ? (error.extensions.retryAfter as number | undefined) : undefined;
      if (retryAfter !== undefined) window.blockedUntil = Math.max(window.blockedUntil, Date.now() + retryAfter * 1000);
      throw error;
    } finally {
      window.inFlight -= 1;
      for (const wake of window.answered) wake();
      window.answered.clear();
    }
  }

  /** Waits until the window has room for one more call besides those in flight. */
  private async admit(window: Window): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (now < window.blockedUntil) {
        await sleep(window.blockedUntil - now);
        continue;
      }
      if (window.remaining === undefined || window.remaining > 0) return;
      if (now >= window.resetAt && window.inFlight === 0) {
        // The window has reset (a sliding one frees at least one call): send one and learn the rest from its answer.
        window.remaining = 1;
        return;
      }
      // Nothing left: wait for the reset, or for an answer in flight that tells more.
      const wait = now < window.resetAt ? window.resetAt - now : 1000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          window.answered.delete(done);
          resolve();
        }
        window.answered.add(done);
      });
    }
  }
}

/**
 * The gate bulk deletes and forget jobs send their upstream calls through: at most
 * MAX_IN_FLIGHT_PER_CREDENTIAL in flight per provider credential, paced by `Pacer`.
 */
export function createUpstreamGate(options: { maxInFlight?: number } = {}): UpstreamGate {
  const maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT_PER_CREDENTIAL;
  const limits = new Map<string, LimitFunction>();
  const pacer = new Pacer();
  return {
    run(call, send) {
      let limit = limits.get(call.credential);
      if (!limit) limits.set(call.credential, (limit = pLimit(maxInFlight)));
      return limit(() => pacer.run(call, send));
    },
  };
}

/** A gate that counts the calls passing through another one (a forget part's `attempts`). */
export function countingGate(inner: UpstreamGate, count: (calls: number) => void): UpstreamGate {
  return {
    async run(call, send) {
      let attempts = 1;
      try {
        const response = await inner.run(call, async () => {
          const answer = await send();
          attempts = answer.attempts;
          return answer;
        });
        return response;
      } finally {
        count(attempts);
      }
    },
  };
}
