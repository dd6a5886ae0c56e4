import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The shared base of the provider fakes: a real node:http server on 127.0.0.1 (ephemeral port)
 * that records every request, applies armed faults before normal handling, and otherwise
 * answers through the provider's `handle()`. The providers' contracts are in
 * ../shared/upstreams/README.md; each fake cites the section it follows.
 */

export interface RecordedRequest {
  method: string;
  /** The path as received, without the query string (Datagrid's includes the `/v1` prefix). */
  path: string;
  query: URLSearchParams;
  /** Lower-case names; a repeated header is joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON; the raw text when the body is not JSON; undefined when there is no body. */
  body: unknown;
  /** The status the fake answered with; undefined while unanswered or when the connection was dropped. */
  status?: number;
}

/** What a provider's handler sees: the recorded request plus what it needs to validate a body. */
export interface FakeRequest extends RecordedRequest {
  rawBody: string;
  /** Set when a non-empty body is not valid JSON (the parser's message). */
  jsonError?: string;
}

export interface FaultOptions {
  /** How many matching requests the fault applies to before it disarms. Default 1. */
  times?: number;
  /** Tested against `"METHOD /path"` (path as recorded, no query). Default: every request. */
  match?: RegExp;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as is; text/plain unless `headers` name a content-type. */
  text?: string;
}

export type ServerErrorStatus = 500 | 502 | 503 | 504;

export interface FakeServer {
  /** Base URL exactly as the gateway's <PROVIDER>_URL variable takes it. */
  readonly url: string;
  /** Every request received, faulted ones included; clear with `requests.length = 0`. */
  readonly requests: RecordedRequest[];
  /** Requests received and not yet answered (or dropped). */
  readonly inFlight: number;
  /** The most requests that were in flight at once since the start or `resetInFlight()`. */
  readonly maxInFlight: number;
  resetInFlight(): void;
  /** 429 with Retry-After and the provider's own rate-limit body and headers. Default 1 s. */
  rateLimit(o?: FaultOptions & { retryAfterSeconds?: number }): void;
  /** A 5xx as a proxy or the framework's last-resort handler sends it. Default 500. */
  serverError(o?: FaultOptions & { status?: ServerErrorStatus }): void;
  /** The request is processed on arrival; the answer is sent `delayMs` later. */
  slow(o: FaultOptions & { delayMs: number }): void;
  /**
   * The socket is destroyed without an answer. With `afterProcessing` the operation is applied
   * first (the ambiguous case: a delete that happened although the client saw an error).
   */
  dropConnection(o?: FaultOptions & { afterProcessing?: boolean }): void;
  /** HTTP 200, JSON content-type, a body that does not parse; state is left unchanged. */
  malformedJson(o?: FaultOptions): void;
  /** The request is held, never processed and never answered (until the fake closes). */
  hang(o?: FaultOptions): void;
  /** Disarms every fault. */
  resetFaults(): void;
  /** Stops listening and closes every connection, keep-alive and pending ones included. */
  close(): Promise<void>;
}

type Fault =
  | { kind: 'respond'; response: (req: FakeRequest) => FakeResponse }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'drop'; afterProcessing: boolean }
  | { kind: 'malformedJson' }
  | { kind: 'hang' };

interface ArmedFault {
  fault: Fault;
  remaining: number;
  match?: RegExp;
}

const STATUS_TEXT: Record<ServerErrorStatus, string> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export abstract class FakeHttpServer implements FakeServer {
  readonly requests: RecordedRequest[] = [];
  #inFlight = 0;
  #maxInFlight = 0;
  readonly #answering = new WeakMap<ServerResponse, (status: number) => void>();
  readonly #server: Server;
  readonly #basePath: string;
  #faults: ArmedFault[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #url: string | undefined;

  /** @param basePath appended to the host in `url` (Datagrid's API lives under /v1). */
  protected constructor(basePath = '') {
    this.#basePath = basePath;
    this.#server = createServer((req, res) => this.#receive(req, res));
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  resetInFlight(): void {
    this.#maxInFlight = this.#inFlight;
  }

  get url(): string {
    if (!this.#url) throw new Error('the fake is not listening yet');
    return this.#url;
  }

  /** Answers a request that no fault intercepted. Called synchronously: state changes on arrival. */
  protected abstract handle(req: FakeRequest): FakeResponse;

  /** The provider's 429: Retry-After plus its own body and headers. */
  protected abstract rateLimited(req: FakeRequest, retryAfterSeconds: number): FakeResponse;

  /** No provider documents its 5xx bodies; this is what a proxy or Starlette's last-resort handler sends. */
  protected serverFailure(_req: FakeRequest, status: ServerErrorStatus): FakeResponse {
    return { status, text: STATUS_TEXT[status] };
  }

  /** Last look at every response before it is written (Datagrid adds its X-RateLimit-* headers). */
  protected finish(_req: FakeRequest, response: FakeResponse): FakeResponse {
    return response;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://127.0.0.1:${port}${this.#basePath}`;
    return this;
  }

  rateLimit(o: FaultOptions & { retryAfterSeconds?: number } = {}): void {
    const seconds = o.retryAfterSeconds ?? 1;
    this.inject(o, (req) => this.rateLimited(req, seconds));
  }

  serverError(o: FaultOptions & { status?: ServerErrorStatus } = {}): void {
    const status = o.status ?? 500;
    this.inject(o, (req) => this.serverFailure(req, status));
  }

  slow(o: FaultOptions & { delayMs: number }): void {
    this.#arm(o, { kind: 'slow', delayMs: o.delayMs });
  }

  dropConnection(o: FaultOptions & { afterProcessing?: boolean } = {}): void {
    this.#arm(o, { kind: 'drop', afterProcessing: o.afterProcessing ?? false });
  }

  malformedJson(o: FaultOptions = {}): void {
    this.#arm(o, { kind: 'malformedJson' });
  }

  hang(o: FaultOptions = {}): void {
    this.#arm(o, { kind: 'hang' });
  }

  resetFaults(): void {
    this.#faults = [];
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await new Promise<void>((resolve) => {
      // close() alone waits for idle keep-alive sockets to time out; closeAllConnections ends them now.
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Arms a provider-specific canned answer (e.g. Memobase's HTTP 200 with errno ≠ 0). */
  protected inject(o: FaultOptions, response: (req: FakeRequest) => FakeResponse): void {
    this.#arm(o, { kind: 'respond', response });
  }

  #arm(o: FaultOptions, fault: Fault): void {
    const times = o.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error(`times must be a positive integer, got ${times}`);
    this.#faults.push({ fault, remaining: times, match: o.match });
  }

  #take(method: string, path: string): Fault | undefined {
    const line = `${method} ${path}`;
    const armed = this.#faults.find((f) => f.remaining > 0 && (!f.match || f.match.test(line)));
    if (!armed) return undefined;
    armed.remaining -= 1;
    if (armed.remaining === 0) this.#faults = this.#faults.filter((f) => f !== armed);
    return armed.fault;
  }

  #receive(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.#dispatch(req, res, Buffer.concat(chunks).toString('utf8')));
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, rawBody: string): void {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: undefined,
      rawBody,
    };
    if (rawBody !== '') {
      try {
        request.body = JSON.parse(rawBody);
      } catch (error) {
        request.body = rawBody;
        request.jsonError = (error as Error).message;
      }
    }
    const { rawBody: _raw, jsonError: _err, ...recorded } = request;
    this.requests.push(recorded);
    this.#inFlight += 1;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.#inFlight -= 1;
    };
    // Counted out when the answer is written (before the client can see it) or the socket goes.
    this.#answering.set(res, (status) => {
      recorded.status = status;
      settle();
    });
    res.once('close', settle);

    const fault = this.#take(request.method, request.path);
    switch (fault?.kind) {
      case undefined:
        return this.#send(res, request, this.#handle(request));
      case 'respond':
        return this.#send(res, request, fault.response(request));
      case 'malformedJson':
        return this.#send(res, request, {
          status: 200,
          headers: { 'content-type': 'application/json' },
          text: '{"truncated": [{"id": ',
        });
      case 'hang':
        return;
      case 'drop':
        if (fault.afterProcessing) this.#handle(request);
        req.socket.destroy();
        return;
      case 'slow': {
        const response = this.#handle(request);
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.#send(res, request, response);
        }, fault.delayMs);
        this.#timers.add(timer);
        return;
      }
    }
  }

  #handle(request: FakeRequest): FakeResponse {
    try {
      return this.handle(request);
    } catch (error) {
      // A bug in the fake must not pass for a provider failure a test meant to provoke.
      console.error(`fake ${request.method} ${request.path} threw`, error);
      return { status: 500, text: `fake handler error: ${(error as Error).message}` };
    }
  }

  #send(res: ServerResponse, request: FakeRequest, response: FakeResponse): void {
    if (res.destroyed || res.writableEnded) return;
    const { status, headers = {}, json, text } = this.finish(request, response);
    this.#answering.get(res)?.(status);
    const out: Record<string, string> = { ...headers };
    let body = '';
    if (json !== undefined) {
      body = JSON.stringify(json);
      out['content-type'] ??= 'application/json';
    } else if (text !== undefined) {
      body = text;
      out['content-type'] ??= 'text/plain; charset=utf-8';
    }
    res.writeHead(status, out);
    res.end(body);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers the provider fakes share.

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(headers: Record<string, string>): string | undefined {
  const match = /^Bearer (.+)$/.exec(headers.authorization ?? '');
  return match?.[1]?.trim() || undefined;
}

/**
 * Timestamps for stored items: never earlier than the previous one plus 1 ms, so items created
 * in a row have strictly increasing created_at and newest-first order is deterministic.
 */
export function monotonicClock(): () => Date {
  let last = 0;
  return () => {
    last = Math.max(Date.now(), last + 1);
    return new Date(last);
  };
}

/** A stable, non-reversible stand-in for an API key inside data (never the key itself). */
export function keyFingerprint(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 12);
}

/** Parses a query integer the way FastAPI/pydantic does (optional sign, digits only). */
export function parseIntParam(value: string | null): number | undefined | 'invalid' {
  if (value === null) return undefined;
  return /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : 'invalid';
}
