import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { ERROR_CODES } from './errors.js';

/**
 * The gateway's Prometheus metrics (CONTRACT § Operations). One object per app, built in app.ts
 * and passed to the server, the upstream pool and the audit; nothing here is a module global, so
 * several gateways in one process (the tests) count separately.
 *
 * Label values come from closed sets only — root field names of the schema, error codes,
 * provider and backend names, outcome words — never a tenant, user, key or item id: every
 * distinct value is a new time series kept forever, and ids are private.
 */

/** How one upstream HTTP attempt ended: its status class, or why there was no status. */
export type UpstreamOutcome = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'connection_error' | 'circuit_open' | 'canceled';

/** The rate-limit classes of CONTRACT § Limits. */
export type RateLimitClass = 'read' | 'write';

export type DeleteFamily = 'user_events' | 'user_memories' | 'memories';

export interface Metrics {
  /** One root field of a finished request: `code` is OK or the error code that field got. */
  requestCompleted(operation: string, code: string, seconds: number): void;
  /** One upstream HTTP attempt (each retry counts), or a call the open circuit refused (no duration). */
  upstreamCall(provider: string, outcome: UpstreamOutcome, seconds?: number): void;
  /** A circuit of this provider (one per tenant scope) opened or closed again. */
  circuitOpened(provider: string): void;
  circuitClosed(provider: string): void;
  /** The gateway's own rate limit refused a request of this class. */
  rateLimited(cls: RateLimitClass): void;
  /** One delete attempt and its audited outcome (`deleted`, `not_found`, `upstream_error`, …). */
  deleteFinished(family: DeleteFamily, backend: string, outcome: string): void;
}

/** Metrics off (METRICS_PORT unset): every call is a no-op and prom-client is never loaded. */
export const metricsOff: Metrics = {
  requestCompleted() {},
  upstreamCall() {},
  circuitOpened() {},
  circuitClosed() {},
  rateLimited() {},
  deleteFinished() {},
};

export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
}

const PROVIDERS = ['memobase', 'datagrid', 'cortex', 'mielto'];
const KNOWN_CODES = new Set<string>(['OK', ...ERROR_CODES]);
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Metrics on: a registry of its own with the process's default metrics (CPU, memory, event
 * loop, GC, handles) and the `memory_gateway_*` families. prom-client is imported here, on
 * demand, so a gateway without METRICS_PORT does not load it.
 */
export async function createPrometheusMetrics(): Promise<PrometheusMetrics> {
  const { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } = await import('prom-client');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'memory_gateway_requests_total',
    help: 'GraphQL root fields served, by root field name and outcome code (OK or the error code).',
    labelNames: ['operation', 'code'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'memory_gateway_request_duration_seconds',
    help: 'Duration of the requests that selected a root field, by root field name.',
    labelNames: ['operation'] as const,
    buckets: SECONDS,
    registers: [registry],
  });
  const upstream = new Counter({
    name: 'memory_gateway_upstream_requests_total',
    help: 'Upstream HTTP attempts by provider and outcome: status class, timeout, connection_error, canceled, or circuit_open (refused without a call).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const upstreamSeconds = new Histogram({
    name: 'memory_gateway_upstream_request_duration_seconds',
    help: 'Duration of upstream HTTP attempts by provider.',
    labelNames: ['provider'] as const,
    buckets: SECONDS,
    registers: [registry],
  });
  const circuits = new Gauge({
    name: 'memory_gateway_circuit_open',
    help: 'Open (or half-open) circuit breakers per provider; there is one breaker per tenant scope, 0 when all are closed.',
    labelNames: ['provider'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'memory_gateway_rate_limited_total',
    help: 'Requests refused by the gateway rate limit, by class (read or write).',
    labelNames: ['class'] as const,
    registers: [registry],
  });
  const deletes = new Counter({
    name: 'memory_gateway_deletes_total',
    help: 'Delete attempts by family, backend and audited outcome.',
    labelNames: ['family', 'backend', 'outcome'] as const,
    registers: [registry],
  });
  // Series that alerting rules look for exist from the start, at 0.
  for (const provider of PROVIDERS) circuits.set({ provider }, 0);

  return {
    registry,
    requestCompleted(operation, code, seconds) {
      const label = { operation, code: KNOWN_CODES.has(code) ? code : 'INTERNAL_SERVER_ERROR' };
      requests.inc(label);
      requestSeconds.observe({ operation }, seconds);
    },
    upstreamCall(provider, outcome, seconds) {
      upstream.inc({ provider, outcome });
      if (seconds !== undefined) upstreamSeconds.observe({ provider }, seconds);
    },
    circuitOpened(provider) {
      circuits.inc({ provider });
    },
    circuitClosed(provider) {
      circuits.dec({ provider });
    },
    rateLimited(cls) {
      rateLimited.inc({ class: cls });
    },
    deleteFinished(family, backend, outcome) {
      deletes.inc({ family, backend, outcome });
    },
  };
}

/**
 * The handler of the metrics listener (METRICS_PORT, its own port: never the public one).
 * GET /metrics answers the Prometheus text format; anything else is 404.
 */
export function metricsHandler(metrics: PrometheusMetrics) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are served on GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
      () => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected\n'),
    );
  };
}
