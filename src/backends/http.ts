import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import { Pool, errors as undiciErrors } from 'undici';
import { AppError, notFound } from '../errors.js';
import { metricsOff, type Metrics, type UpstreamOutcome } from '../metrics.js';

/**
 * The one upstream HTTP client. Timeouts, retries, the circuit breaker, per-request
 * de-duplication, logging and secret hygiene live here, not in the adapters. Adapters get
 * responses of any status below 500 (plus 2xx bodies parsed) and map them to domain results;
 * everything transport-shaped becomes an AppError here.
 */

export type ProviderName = 'memobase' | 'datagrid' | 'cortex' | 'mielto';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Wall-clock budget for all attempts and waits of one call. */
  retryBudgetMs: number;
  /** A Retry-After longer than this is not waited for: the call fails with `retryAfter`. */
  maxRetryAfterMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** First backoff step; doubled per retry, with full jitter. */
  baseDelayMs?: number;
}

/** Where and as whom to call a provider. `headers` carry the credential and are never logged. */
export interface UpstreamConnection {
  provider: ProviderName;
  baseUrl: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Appended to the connection's base URL. */
  path: string;
  /**
   * The path with its ids as placeholders (`/memories/{memoryId}`), for traces and the request
   * log; set it whenever `path` holds an id. Defaults to `path`.
   */
  route?: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Whether repeating the call is harmless. GET and DELETE default to true: deletes are
   * idempotent by id. A POST is retried only when it surely did not arrive (429, refused
   * connection).
   */
  idempotent?: boolean;
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
  /**
   * True when an earlier attempt of this call may have been applied by the provider before it
   * failed (timeout, connection dropped after sending, 502/503/504). A delete that then meets
   * 404 was most likely done by that attempt.
   */
  mayHaveApplied: boolean;
  attempts: number;
}

export interface UpstreamClient {
  readonly provider: ProviderName;
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
}

/** One upstream HTTP attempt as a request's observer sees it (never the concrete path or a header). */
export interface UpstreamAttempt {
  provider: ProviderName;
  method: UpstreamRequest['method'];
  route: string;
  /** 1 for the first try, 2 for the first retry, … */
  attempt: number;
}

/**
 * What the request that makes upstream calls wants from them: the headers that carry its trace
 * context, and how each attempt ended (for its span and its log line).
 */
export interface UpstreamObserver {
  attempt(call: UpstreamAttempt): { headers: Record<string, string>; end(result: { outcome: UpstreamOutcome; status?: number; ms: number }): void };
}

const statusClass = (status: number) => `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx` as UpstreamOutcome;

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Connection-level failures: the provider could not be reached or hung up. Errors the client
 * raises before sending (an invalid header value, a bad argument) are not: nothing reached the
 * provider, so they must not count against it.
 */
function isConnectionError(error: unknown): boolean {
  if (
    error instanceof undiciErrors.SocketError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ClientClosedError ||
    error instanceof undiciErrors.ClientDestroyedError ||
    error instanceof undiciErrors.HTTPParserError ||
    error instanceof undiciErrors.ResponseContentLengthMismatchError
  ) {
    return true;
  }
  if (error instanceof undiciErrors.UndiciError) return false;
  const code = (error as { code?: string } | null)?.code;
  return typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(code);
}

/** A refused connection never reached the provider, so even a POST may be repeated. */
function neverArrived(error: unknown): boolean {
  const code = (error as { code?: string; cause?: { code?: string } } | null)?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
  return code === 'ECONNREFUSED';
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date); undefined when absent or bad. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * One path segment holding a caller's id, percent-encoded. "." and ".." (also as %2E) are
 * resolved away by URL parsing and would address another resource, so no item can have them:
 * they are NOT_FOUND without a call.
 */
export function pathSegment(value: string, what: string): string {
  if (/^(\.|%2e){1,2}$/i.test(value)) throw notFound(`${what} ${value}`);
  return encodeURIComponent(value);
}

function buildUrl(base: string, path: string, query?: Record<string, QueryValue>): URL {
  const url = new URL(base.replace(/\/+$/, '') + path);
  if (query) {
    for (const key in query) {
      const value = query[key];
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
  }
  return url;
}

/**
 * What ends one attempt early: its deadline or the caller's signal. An EventEmitter, which undici
 * accepts as a signal, rather than `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: those two
 * cost about 0.2 ms of CPU per call (measured against the Mielto fake), more than the rest of
 * the client's own work. `timedOut` tells the two causes apart.
 */
class AttemptSignal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;
  timedOut = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort?: () => void;

  constructor(
    timeoutMs: number,
    private readonly caller?: AbortSignal,
  ) {
    super();
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, timeoutMs);
    if (caller) {
      if (caller.aborted) this.abort(caller.reason);
      else caller.addEventListener('abort', (this.onCallerAbort = () => this.abort(caller.reason)), { once: true });
    }
  }

  private abort(reason: unknown) {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  /** The attempt is over: no timer or listener outlives it. */
  dispose() {
    clearTimeout(this.timer);
    if (this.onCallerAbort) this.caller!.removeEventListener('abort', this.onCallerAbort);
  }
}

/** A failure worth another attempt, with what the retry loop needs to decide. */
class RetryableFailure extends Error {
  constructor(
    readonly error: AppError,
    /** The request may have been applied before it failed. */
    readonly applied: boolean,
    /** The request surely never reached the provider. */
    readonly neverArrived: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

/** Failures that say the provider is unwell (and so count towards opening its circuit); 429 does not. */
function countsAgainstProvider(error: unknown): boolean {
  const app = error instanceof RetryableFailure ? error.error : error;
  if (!(app instanceof AppError)) return false;
  if (app.code === 'UPSTREAM_TIMEOUT' || app.code === 'UPSTREAM_UNAVAILABLE') return true;
  return app.code === 'UPSTREAM_ERROR' && (app.extensions.upstreamStatus as number) >= 500;
}

interface Breaker {
  policy: CircuitBreakerPolicy;
  openedAt: number;
  /** Open or half-open, as counted in the circuit metric. */
  open: boolean;
}

/**
 * Shared by every request of a server: pooled keep-alive connections and one circuit breaker per
 * tenant and upstream scope, so one tenant (or one bad scope) cannot open the circuit for anyone
 * else.
 */
export class UpstreamPool {
  /**
   * One connection pool per origin. What an undici Agent does, without its dispatch layer
   * (about 0.2 ms of CPU per call against the Mielto fake).
   */
  private readonly pools = new Map<string, Pool>();
  private readonly breakers = new Map<string, Breaker>();

  constructor(
    private readonly policy: RetryPolicy,
    private readonly logger: Logger,
    private readonly metrics: Metrics = metricsOff,
  ) {}

  /**
   * A client for one connection. `breakerScope` names whose failures open its circuit (route
   * passes tenant + scope; by default the URL and credential); `observer` is the request the
   * calls are made for, if any.
   */
  client(connection: UpstreamConnection, breakerScope?: string, observer?: UpstreamObserver): UpstreamClient {
    const breaker = this.breakerFor(connection, breakerScope);
    return { provider: connection.provider, request: (req) => this.call(connection, breaker, req, observer) };
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  private poolFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) this.pools.set(origin, (pool = new Pool(origin, { keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connections: 64 })));
    return pool;
  }

  private breakerFor(connection: UpstreamConnection, breakerScope?: string): Breaker {
    // A scope from scopedClients (providers.ts) names the credential by its hash already; the
    // default one holds the credential itself, which is not kept as a map key.
    const key =
      breakerScope !== undefined
        ? `${connection.provider}:${breakerScope}`
        : `${connection.provider}:${createHash('sha256').update(JSON.stringify([connection.baseUrl, connection.headers])).digest('hex').slice(0, 16)}`;
    let breaker = this.breakers.get(key);
    if (!breaker) {
      const policy = circuitBreaker(handleWhen(countsAgainstProvider), {
        halfOpenAfter: this.policy.breakerCooldownMs,
        breaker: new ConsecutiveBreaker(this.policy.breakerThreshold),
      });
      const created: Breaker = { policy, openedAt: 0, open: false };
      policy.onBreak(() => {
        created.openedAt = Date.now();
        this.logger.warn({ provider: connection.provider }, 'upstream circuit opened');
      });
      policy.onReset(() => this.logger.info({ provider: connection.provider }, 'upstream circuit closed'));
      policy.onStateChange((state) => {
        const open = state !== CircuitState.Closed;
        if (open === created.open) return;
        created.open = open;
        if (open) this.metrics.circuitOpened(connection.provider);
        else this.metrics.circuitClosed(connection.provider);
      });
      this.breakers.set(key, created);
      breaker = created;
    }
    return breaker;
  }

  private async call(connection: UpstreamConnection, breaker: Breaker, req: UpstreamRequest, observer?: UpstreamObserver): Promise<UpstreamResponse> {
    const { provider } = connection;
    const started = Date.now();
    const idempotent = req.idempotent ?? (req.method === 'GET' || req.method === 'DELETE');
    const baseDelay = this.policy.baseDelayMs ?? 100;
    let mayHaveApplied = false;

    for (let attempt = 1; ; attempt++) {
      let failure: RetryableFailure;
      try {
        const response = await breaker.policy.execute(() => this.attempt(connection, req, attempt, observer));
        return { ...response, mayHaveApplied, attempts: attempt };
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          this.watch(connection, req, attempt, observer).done('circuit_open');
          const remaining = Math.max(1, Math.ceil((breaker.openedAt + this.policy.breakerCooldownMs - Date.now()) / 1000));
          throw new AppError('UPSTREAM_UNAVAILABLE', `${provider} is unavailable (circuit open); retry later`, { provider, retryAfter: remaining });
        }
        if (!(error instanceof RetryableFailure)) throw error;
        failure = error;
      }

      // Wait and try again only if the policy, the time budget and idempotency allow.
      mayHaveApplied ||= failure.applied;
      const status = failure.error.extensions.upstreamStatus as number | undefined;
      const safeToRepeat = idempotent || status === 429 || failure.neverArrived;
      const wait = failure.retryAfterMs ?? Math.random() * baseDelay * 2 ** (attempt - 1);
      const withinBudget = Date.now() - started + wait < this.policy.retryBudgetMs;
      const waitAllowed = failure.retryAfterMs === undefined || failure.retryAfterMs <= this.policy.maxRetryAfterMs;
      if (attempt > this.policy.maxRetries || !safeToRepeat || !withinBudget || !waitAllowed || req.signal?.aborted) {
        throw failure.error;
      }
      this.logger.debug({ provider, method: req.method, path: req.path, attempt, waitMs: Math.round(wait) }, 'retrying upstream call');
      await sleep(wait, undefined, { signal: req.signal });
    }
  }

  /** Metrics and the request's observer for one attempt: its trace headers, and `done` once it ended. */
  private watch(connection: UpstreamConnection, req: UpstreamRequest, attempt: number, observer?: UpstreamObserver) {
    const { provider } = connection;
    const started = performance.now();
    const seen = observer?.attempt({ provider, method: req.method, route: req.route ?? req.path, attempt });
    let finished = false;
    return {
      headers: seen?.headers ?? {},
      done: (outcome: UpstreamOutcome, status?: number) => {
        if (finished) return;
        finished = true;
        const ms = performance.now() - started;
        this.metrics.upstreamCall(provider, outcome, outcome === 'circuit_open' ? undefined : ms / 1000);
        seen?.end({ outcome, status, ms });
      },
    };
  }

  /** One attempt: a final response, or a thrown AppError / RetryableFailure. */
  private async attempt(
    connection: UpstreamConnection,
    req: UpstreamRequest,
    attempt: number,
    observer?: UpstreamObserver,
  ): Promise<Omit<UpstreamResponse, 'mayHaveApplied' | 'attempts'>> {
    const { provider } = connection;
    const url = buildUrl(connection.baseUrl, req.path, req.query);
    const signal = new AttemptSignal(connection.timeoutMs, req.signal);
    const started = Date.now();
    const watch = this.watch(connection, req, attempt, observer);
    const headers: Record<string, string> = { accept: 'application/json', ...connection.headers, ...req.headers, ...watch.headers };
    if (req.body !== undefined) headers['content-type'] = 'application/json';

    let status: number | undefined;
    let responseHeaders: Record<string, string>;
    let text: string;
    try {
      const res = await this.poolFor(url.origin).request({
        path: url.pathname + url.search,
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal,
      });
      status = res.statusCode;
      responseHeaders = {};
      for (const name in res.headers) {
        const value = res.headers[name];
        responseHeaders[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value ?? '');
      }
      text = await readLimited(res.body, responseHeaders['content-length'], MAX_BODY_BYTES, provider, status);
    } catch (error) {
      if (req.signal?.aborted) {
        watch.done('canceled', status);
        throw req.signal.reason ?? error;
      }
      if (signal.timedOut) {
        watch.done('timeout', status);
        this.logger.warn({ provider, method: req.method, path: req.path, attempt, ms: Date.now() - started }, 'upstream call timed out');
        const timedOut = new AppError('UPSTREAM_TIMEOUT', `${provider} did not answer within ${connection.timeoutMs} ms`, { provider });
        // A delete that timed out may still have been applied. Sending it again (it is idempotent
        // by id) settles the outcome: done, or "not found" after an attempt that may have
        // applied it, which the adapters report as done. Otherwise the client would be told a
        // delete failed while the data is gone. Reads are not repeated: a slow provider stays slow.
        if (req.method === 'DELETE') throw new RetryableFailure(timedOut, true, false);
        throw timedOut;
      }
      watch.done(status === undefined ? 'connection_error' : statusClass(status), status);
      if (isConnectionError(error)) {
        this.logger.warn(
          { provider, method: req.method, path: req.path, attempt, error: (error as { code?: string }).code ?? (error as Error).name },
          'upstream connection failed',
        );
        const refused = neverArrived(error);
        throw new RetryableFailure(new AppError('UPSTREAM_UNAVAILABLE', `${provider} could not be reached`, { provider }), !refused, refused);
      }
      throw error;
    } finally {
      signal.dispose();
    }

    watch.done(statusClass(status), status);
    this.logger.debug({ provider, method: req.method, path: req.path, status, attempt, ms: Date.now() - started }, 'upstream call');

    if (RETRYABLE_STATUS.has(status)) {
      const retryAfter = parseRetryAfter(responseHeaders['retry-after']);
      const error = new AppError('UPSTREAM_ERROR', `${provider} answered HTTP ${status}`, { provider, upstreamStatus: status, retryAfter });
      // A 429 was refused before any work; a 502/503/504 may have been applied behind a proxy.
      throw new RetryableFailure(error, status !== 429, status === 429, retryAfter === undefined ? undefined : retryAfter * 1000);
    }
    if (status >= 500) {
      throw new AppError('UPSTREAM_ERROR', `${provider} answered HTTP ${status}`, { provider, upstreamStatus: status });
    }

    let body: unknown;
    if (text.trim().length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        // Never echo the body: it may hold another user's data or a credential.
        throw new AppError('UPSTREAM_ERROR', `${provider} sent a response that is not JSON`, { provider, upstreamStatus: status });
      }
    }
    return { status, headers: responseHeaders, body };
  }
}

type ResponseBody = AsyncIterable<Buffer | Uint8Array> & { bytes(): Promise<Uint8Array>; destroy(): unknown };

async function readLimited(body: ResponseBody, contentLength: string | undefined, limit: number, provider: ProviderName, status: number): Promise<string> {
  const declared = contentLength === undefined ? NaN : Number(contentLength);
  if (declared > limit) {
    body.destroy();
    throw new AppError('UPSTREAM_ERROR', `${provider} sent a response that is too large`, { provider, upstreamStatus: status });
  }
  if (declared >= 0) {
    // The length is known and allowed, and undici fails a body that does not match it: read it
    // whole (cheaper than iterating its chunks).
    const bytes = await body.bytes();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new AppError('UPSTREAM_ERROR', `${provider} sent a response that is too large`, { provider, upstreamStatus: status });
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Per-request view of a client: identical reads and identical deletes within one GraphQL
 * request go upstream once (DataLoader's cache), while different calls still run concurrently.
 */
export function dedupePerRequest(client: UpstreamClient): UpstreamClient {
  const loader = new DataLoader<UpstreamRequest, UpstreamResponse, string>(
    async (requests) => Promise.all(requests.map((req) => client.request(req).catch((error: unknown) => error as Error))),
    {
      batch: false,
      cacheKeyFn: (req) => JSON.stringify([req.method, req.path, req.query ?? {}, req.body ?? null, req.headers ?? {}]),
    },
  );
  return {
    provider: client.provider,
    request: (req) => (req.method === 'GET' || req.method === 'DELETE' ? loader.load(req) : client.request(req)),
  };
}

/** Maps a response status the adapter did not expect to the contract's error. */
export function unexpectedStatus(provider: ProviderName, response: Pick<UpstreamResponse, 'status' | 'headers'>): AppError {
  return new AppError('UPSTREAM_ERROR', `${provider} refused the request (HTTP ${response.status})`, {
    provider,
    upstreamStatus: response.status,
    retryAfter: parseRetryAfter(response.headers['retry-after']),
  });
}
