import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Trace context for requests and upstream calls (W3C Trace Context, CONTRACT § Operations): an
 * incoming `traceparent` is continued and every upstream call carries the request's. With
 * OTEL_EXPORTER_OTLP_ENDPOINT the spans are recorded and exported by the OpenTelemetry SDK
 * (src/otel.ts, imported only then); without it nothing is recorded and only the ids are
 * passed on, so a provider's own traces still join the caller's.
 */

export interface TraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** 16 lower-case hex digits: the span a downstream call names as its parent. */
  readonly spanId: string;
  readonly sampled: boolean;
  /** The caller's `tracestate`, passed on unchanged. */
  readonly state?: string;
}

export type AttributeValue = string | number | boolean | string[];

export interface SpanHandle {
  readonly context: TraceContext;
  setAttributes(attributes: Record<string, AttributeValue | undefined>): void;
  updateName(name: string): void;
  /** Ends the span; `error` marks it failed with that description. */
  end(error?: string): void;
}

export interface Tracer {
  /** A request's server span, child of the caller's context when it sent one. */
  startRequest(parent: TraceContext | undefined, name: string): SpanHandle;
  /** A client span for one upstream HTTP attempt, child of the request's span. */
  startUpstream(parent: SpanHandle, name: string, attributes: Record<string, AttributeValue | undefined>): SpanHandle;
  /** Exports what is still buffered (waiting a few seconds at most) and stops; never fails. */
  shutdown(): Promise<void>;
}

// Version 00 has exactly these four fields; later versions may append more after a dash.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Reads a `traceparent` header (W3C Trace Context § 3.2). Invalid values are ignored, as the
 * spec asks: the request then starts a new trace. Hand-written rather than taken from
 * @opentelemetry/core so that a gateway without tracing never loads OpenTelemetry.
 */
export function parseTraceparent(header: string | null | undefined, tracestate?: string | null): TraceContext | undefined {
  const match = TRACEPARENT.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  const state = tracestate?.trim();
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1, ...(state ? { state } : {}) };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`;
}

/** The headers that carry a trace context to an upstream call. */
export function traceHeaders(context: TraceContext): Record<string, string> {
  return context.state ? { traceparent: formatTraceparent(context), tracestate: context.state } : { traceparent: formatTraceparent(context) };
}

/**
 * Random bytes for new trace ids, drawn from the system a few kilobytes at a time (as Node's own
 * `randomUUID` does): one system call per request cost more than the rest of starting its trace.
 */
let randomPool: Buffer | undefined;
let randomUsed = 0;
const RANDOM_POOL_BYTES = 24 * 256;

function randomHex(bytes: number): string {
  if (!randomPool || randomUsed + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomUsed = 0;
  }
  const hex = randomPool.toString('hex', randomUsed, randomUsed + bytes);
  randomUsed += bytes;
  return hex;
}

/** A new, unsampled root context: the request's trace id when the caller sent none. */
function newRootContext(): TraceContext {
  return { traceId: randomHex(16), spanId: randomHex(8), sampled: false };
}

const ignore = () => {};

function passThrough(context: TraceContext): SpanHandle {
  return { context, setAttributes: ignore, updateName: ignore, end: ignore };
}

/**
 * Tracing off: nothing is recorded. A request keeps its caller's context (or a fresh trace id)
 * and hands it on unchanged, so the provider sees the caller's trace id and parent span.
 */
export const tracingOff: Tracer = {
  startRequest: (parent) => passThrough(parent ?? newRootContext()),
  startUpstream: (parent) => passThrough(parent.context),
  shutdown: async () => {},
};

/** Tracing for a configuration: the OpenTelemetry SDK when an endpoint is set, else `tracingOff`. */
export async function createTracer(config: Pick<Config, 'tracing'>, logger: Logger): Promise<Tracer> {
  if (!config.tracing) return tracingOff;
  const { createOtelTracer } = await import('./otel.js');
  return createOtelTracer(config.tracing, logger);
}
