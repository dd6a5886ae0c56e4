import { Kind, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { UpstreamAttempt, UpstreamObserver } from '../backends/http.js';
import type { Metrics, UpstreamOutcome } from '../metrics.js';
import { parseTraceparent, traceHeaders, type SpanHandle, type Tracer } from '../tracing.js';

/**
 * What an operator sees of each GraphQL request (CONTRACT § Operations): one span (continuing
 * the caller's `traceparent`) with a child span per upstream attempt, the request metrics by
 * root field and code, and one JSON log line. The log line holds ids, names, codes and timings
 * only: never a header, a variable, the document (it may hold memory content inline) or a body.
 */

/** Upstream attempts listed in one log line; more are counted, not listed. */
const MAX_LOGGED_CALLS = 50;

interface RootField {
  /** The response key (alias or name) that errors' paths start with. */
  key: string;
  name: string;
}

interface Operation {
  type: 'query' | 'mutation' | 'subscription';
  name?: string;
  fields: RootField[];
}

interface UpstreamCall extends UpstreamAttempt {
  outcome?: UpstreamOutcome;
  status?: number;
  ms?: number;
}

/** One GraphQL request from arrival to response; the observer of the upstream calls made for it. */
export class RequestRecord implements UpstreamObserver {
  readonly started = performance.now();
  tenant: string | null = null;
  readonly operations: Operation[] = [];
  /** Error codes with the root field (response key) they belong to; none for request-wide errors. */
  readonly errors: { key?: string; code: string }[] = [];
  readonly upstream: UpstreamCall[] = [];

  constructor(
    readonly span: SpanHandle,
    private readonly tracer: Tracer,
  ) {}

  attempt(call: UpstreamAttempt) {
    const record: UpstreamCall = { ...call };
    this.upstream.push(record);
    const span = this.tracer.startUpstream(this.span, `${call.method} ${call.route}`, {
      'http.request.method': call.method,
      'url.template': call.route,
      'memory_gateway.provider': call.provider,
      'http.request.resend_count': call.attempt > 1 ? call.attempt - 1 : undefined,
    });
    return {
      headers: traceHeaders(span.context),
      end: ({ outcome, status, ms }: { outcome: UpstreamOutcome; status?: number; ms: number }) => {
        Object.assign(record, { outcome, status, ms: Math.round(ms * 10) / 10 });
        span.setAttributes({ 'http.response.status_code': status, 'error.type': outcome === '2xx' || outcome === '3xx' ? undefined : outcome });
        span.end(outcome === '2xx' || outcome === '3xx' ? undefined : outcome);
      },
    };
  }
}

/** The root fields an operation selects (fragments at the root followed), known to the schema only. */
function rootFields(selectionSet: SelectionSetNode, document: DocumentNode, known: Set<string>, out: RootField[] = []): RootField[] {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      // A name the schema does not have is the caller's typo or junk: never a metric label.
      if (known.has(selection.name.value)) out.push({ key: selection.alias?.value ?? selection.name.value, name: selection.name.value });
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      rootFields(selection.selectionSet, document, known, out);
    } else {
      const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) rootFields(fragment.selectionSet, document, known, out);
    }
  }
  return out;
}

function describe(document: DocumentNode, operationName: string | undefined, schema: GraphQLSchema): Operation | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return undefined;
  const root = operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const known = new Set(Object.keys(root?.getFields() ?? {}));
  if (operation.operation === 'query') for (const meta of ['__typename', '__schema', '__type']) known.add(meta);
  return { type: operation.operation, name: operation.name?.value, fields: rootFields(operation.selectionSet, document, known) };
}

/** The code of a response refused before GraphQL produced errors (body limits, media type). */
function codeForStatus(status: number): string {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 429) return 'RATE_LIMITED';
  if (status >= 500) return 'INTERNAL_SERVER_ERROR';
  return status >= 400 ? 'BAD_USER_INPUT' : 'OK';
}

export interface TelemetryDeps {
  schema: GraphQLSchema;
  graphqlEndpoint: string;
  tracer: Tracer;
  metrics: Metrics;
  logger: Logger;
  requestIdOf(request: Request): string | undefined;
  /** The client's own X-Request-Id, when it sent a well-formed one (kept beside the gateway's). */
  clientRequestIdOf(request: Request): string | undefined;
}

export interface RequestTelemetry {
  /** The record of a GraphQL request in flight. */
  of(request: Request): RequestRecord | undefined;
  /** Goes first among the plugins, so that the span and the clock start before anything else. */
  useTelemetryStart(): Plugin;
  /** Goes last, so that it sees the error codes as clients get them (after their normalization). */
  useTelemetryEnd(): Plugin;
}

export function createRequestTelemetry({ schema, graphqlEndpoint, tracer, metrics, logger, requestIdOf, clientRequestIdOf }: TelemetryDeps): RequestTelemetry {
  const records = new WeakMap<Request, RequestRecord>();

  function finish(request: Request, record: RequestRecord, response: Response) {
    const seconds = (performance.now() - record.started) / 1000;
    const fields = record.operations.flatMap((o) => o.fields);
    const requestWide = record.errors.find((e) => e.key === undefined)?.code ?? codeForStatus(response.status);
    const codeOf = (key: string) => record.errors.find((e) => e.key === key)?.code ?? requestWide;
    const codes = [...new Set([...record.errors.map((e) => e.code), ...(requestWide === 'OK' ? [] : [requestWide])])];
    const names = [...new Set(fields.map((f) => f.name))];
    const operation = record.operations.map((o) => o.name).filter(Boolean).join(', ') || null;
    const type = record.operations[0]?.type;

    const span = record.span;
    span.updateName(type ? `${type} ${operation ?? names.join(',')}`.trim() : `${request.method} ${graphqlEndpoint}`);
    span.setAttributes({
      'graphql.operation.type': type,
      'graphql.operation.name': operation ?? undefined,
      'memory_gateway.root_fields': names,
      'memory_gateway.error_codes': codes,
      'memory_gateway.request_id': requestIdOf(request),
      'memory_gateway.tenant': record.tenant ?? undefined,
      'http.request.method': request.method,
      'http.response.status_code': response.status,
    });
    span.end(codes.length ? codes.join(',') : undefined);

    if (fields.length === 0) metrics.requestCompleted('(none)', requestWide, seconds);
    for (const field of fields) metrics.requestCompleted(field.name, codeOf(field.key), seconds);

    logger.info(
      {
        requestId: requestIdOf(request),
        clientRequestId: clientRequestIdOf(request),
        tenant: record.tenant,
        traceId: span.context.traceId,
        operation,
        operationType: type ?? null,
        rootFields: names,
        status: response.status,
        durationMs: Math.round(seconds * 10_000) / 10,
        codes,
        upstreamCalls: record.upstream.length,
        upstream: record.upstream.slice(0, MAX_LOGGED_CALLS),
      },
      'request',
    );
  }

  return {
    of: (request) => records.get(request),

    useTelemetryStart: () => ({
      onRequest({ request, url }) {
        if (url.pathname !== graphqlEndpoint) return;
        const parent = parseTraceparent(request.headers.get('traceparent'), request.headers.get('tracestate'));
        records.set(request, new RequestRecord(tracer.startRequest(parent, `${request.method} ${graphqlEndpoint}`), tracer));
      },
      onResponse({ request, response }) {
        const record = records.get(request);
        if (!record) return;
        records.delete(request);
        finish(request, record, response);
      },
    }),

    useTelemetryEnd: () => ({
      onParse({ context }) {
        const { request, params } = context as { request?: Request; params?: { operationName?: string } };
        const record = request && records.get(request);
        if (!record) return;
        return ({ result }) => {
          if (!result || result instanceof Error) return;
          const operation = describe(result, params?.operationName ?? undefined, schema);
          if (operation) record.operations.push(operation);
        };
      },
      onResultProcess({ request, result }) {
        const record = records.get(request);
        if (!record) return;
        for (const single of Array.isArray(result) ? result : [result]) {
          const errors = single && typeof single === 'object' && 'errors' in single ? single.errors : undefined;
          for (const error of errors ?? []) {
            const key = error.path?.[0];
            const code = error.extensions?.code;
            record.errors.push({ key: typeof key === 'string' ? key : undefined, code: typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR' });
          }
        }
      },
    }),
  };
}
