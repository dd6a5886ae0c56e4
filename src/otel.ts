import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { AttributeValue, SpanHandle, TraceContext, Tracer } from './tracing.js';

/**
 * The OpenTelemetry SDK behind `Tracer`, loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 * Spans go in batches to `<endpoint>/v1/traces` as OTLP/HTTP protobuf (the standard's default
 * transport). Nothing is registered globally: the provider belongs to this app and parents are
 * passed explicitly, so no context manager (async hooks) is needed.
 */

/** How long stopping waits for the last spans to be exported: a collector that is down must not hold up the exit. */
const SHUTDOWN_FLUSH_MS = 3000;
/** `ExportResultCode.SUCCESS` of @opentelemetry/core. */
const EXPORT_SUCCESS = 0;

/**
 * Says in the log when spans cannot be delivered (at most once a minute), which the SDK itself
 * would not. Only the error's code or name: a collector's answer is not echoed.
 */
function reportingFailures(exporter: SpanExporter, logger: Logger): SpanExporter {
  let warnedAt = 0;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        if (result.code !== EXPORT_SUCCESS && Date.now() - warnedAt > 60_000) {
          warnedAt = Date.now();
          const reason = (result.error as { code?: string } | undefined)?.code ?? result.error?.name;
          logger.warn({ spans: spans.length, reason }, 'spans could not be exported to OTEL_EXPORTER_OTLP_ENDPOINT');
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

interface OtelSpanHandle extends SpanHandle {
  readonly span: Span;
}

function defined(attributes: Record<string, AttributeValue | undefined>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}

function handle(span: Span, state: string | undefined): OtelSpanHandle {
  const { traceId, spanId, traceFlags } = span.spanContext();
  const context: TraceContext = { traceId, spanId, sampled: (traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED, ...(state ? { state } : {}) };
  return {
    span,
    context,
    setAttributes: (attributes) => span.setAttributes(defined(attributes)),
    updateName: (name) => span.updateName(name),
    end(error) {
      if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      span.end();
    },
  };
}

export function createOtelTracer(options: { endpoint: string; serviceName: string }, logger: Logger): Tracer {
  const { version } = createRequire(import.meta.url)('../package.json') as { version: string };
  // Every option is given explicitly, so the SDK's defaults do not depend on other OTEL_* variables.
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': version }),
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: reportingFailures(new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }), logger),
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 2000,
        exportTimeoutMillis: 10_000,
      }),
    ],
  });
  const tracer = provider.getTracer('memory-gateway', version);

  return {
    startRequest(parent, name) {
      const context = parent
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: parent.traceId,
            spanId: parent.spanId,
            traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: true,
            ...(parent.state ? { traceState: createTraceState(parent.state) } : {}),
          })
        : ROOT_CONTEXT;
      return handle(tracer.startSpan(name, { kind: SpanKind.SERVER }, context), parent?.state);
    },
    startUpstream(parent, name, attributes) {
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: defined(attributes) }, trace.setSpan(ROOT_CONTEXT, (parent as OtelSpanHandle).span));
      return handle(span, parent.context.state);
    },
    async shutdown() {
      const flushed = provider.shutdown().then(
        () => true,
        () => false,
      );
      if (!(await Promise.race([flushed, sleep(SHUTDOWN_FLUSH_MS, false, { ref: false })]))) {
        logger.warn('the last spans could not be exported before stopping');
      }
    },
  };
}
