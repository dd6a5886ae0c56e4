import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { createGraphQLError, createYoga, maskError as yogaMaskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { routingReadWith, type Authenticator, type Principal } from './auth/principal.js';
import { UpstreamBudget } from './backends/budget.js';
import type { StoreRouter } from './backends/route.js';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { isStoreUnavailable } from './db.js';
import { AppError, ERROR_CODES, storeUnavailable } from './errors.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { getSubgraphSchema } from './graphql/schema.js';
import type { LocalDeleteTransactions } from './deletes.js';
import { createUserListLoaders } from './loaders.js';
import { corsOptions } from './cors.js';
import { MAX_BATCH_OPERATIONS, refusal, type RateClass } from './limits.js';
import { useAuthentication } from './plugins/use-authentication.js';
import { useCompiledExecution } from './plugins/use-compiled-execution.js';
import { useDocumentLimits } from './plugins/use-document-limits.js';
import { useEntityLimit } from './plugins/use-entity-limit.js';
import { useGraphiQLPage } from './plugins/use-graphiql-page.js';
import { useRateLimit } from './plugins/use-rate-limit.js';
import { useRequestGuards } from './plugins/use-request-guards.js';
import { memoryRateLimitStores, type RateLimitStore } from './rate-limit.js';
import type { Metrics } from './metrics.js';
import type { PrivacyServices } from './privacy/services.js';
import { useReadiness } from './plugins/use-readiness.js';
import { createRequestTelemetry } from './plugins/use-telemetry.js';
import type { Readiness } from './readiness.js';
import type { Tracer } from './tracing.js';

export interface ServerDeps {
  config: Pick<Config, 'env' | 'maxBodyBytes' | 'requestLimits' | 'rateLimits' | 'queryLimits' | 'corsOrigins'>;
  prisma: PrismaClient;
  logger: Logger;
  authenticator: Authenticator;
  router: StoreRouter;
  localDeletes: LocalDeleteTransactions;
  /** Rate-limit counters per class; in memory by default (a shared store counts across instances). */
  rateLimitStores?: Partial<Record<RateClass, RateLimitStore>>;
  /** Called for every request refused by a rate limit. */
  onRateLimited?: (rateClass: RateClass) => void;
  metrics: Metrics;
  tracer: Tracer;
  readiness: Readiness;
  privacy: PrivacyServices;
}

export type GatewayServer = YogaServerInstance<Record<string, unknown>, Context>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's own X-Request-Id when it is one a log or an audit record may hold. */
function clientRequestIdOf(request: Request): string | undefined {
  const incoming = request.headers.get('x-request-id');
  return incoming && REQUEST_ID.test(incoming) ? incoming : undefined;
}

export const DEFAULT_QUERY = `# memory-gateway: one GraphQL endpoint for what the AI remembers about users.
# The Docs panel (top left) lists every operation; reading the schema needs no key.
#
# 1. Create a key:   npx memory-gateway keys create --tenant acme
# 2. In the Headers tab below, replace YOUR_API_KEY with it:
#      { "Authorization": "Bearer mgw_..." }
# 3. Run this query (the play button).

query RecentMemories {
  memories(first: 10) {
    edges {
      node { id userId memory topics createdAt backend }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;

/**
 * Request ids (the gateway's own, always generated; the client's X-Request-Id, when sane, is
 * kept beside it for correlation), the body size limit, and a readable answer to POST bodies of
 * a media type Yoga cannot parse (Yoga's own is an empty 415).
 *
 * The size limit replaces Yoga's `maxRequestBodySize`, which pipes every body through a
 * counting stream. A body that declares its length is refused before it is read when the length
 * is over the limit, and otherwise read as it is: Node's parser never reads past a
 * Content-Length. Only a body streamed without one (chunked) is counted as it arrives.
 */
function useRequestBasics(maxBodyBytes: number, requestIds: WeakMap<Request, string>): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      requestIds.set(request, randomUUID());
      const declared = request.headers.get('content-length');
      if (declared === null) return;
      if (!/^\d+$/.test(declared)) {
        endResponse(refusal(fetchAPI, 400, 'Content-Length must be a single non-negative integer'));
      } else if (Number(declared) > maxBodyBytes) {
        endResponse(refusal(fetchAPI, 413, `Request body is ${declared} bytes; the limit is ${maxBodyBytes}`));
      }
    },
    onRequestParse({ request, requestParser, setRequestParser, endResponse, fetchAPI }) {
      // Runs after Yoga's built-in parsers have had their chance to claim the request.
      if (!requestParser) {
        if (request.method !== 'POST') return;
        const type = request.headers.get('content-type') ?? 'none';
        endResponse(refusal(fetchAPI, 415, `Unsupported Content-Type ${type}: send the request as application/json`));
        return;
      }
      if (request.body && !request.headers.has('content-length')) {
        setRequestParser((streamed) => requestParser(withCountedBody(streamed, maxBodyBytes, fetchAPI)));
      }
    },
    onResponse({ request, response }) {
      const id = requestIds.get(request);
      if (id) response.headers.set('x-request-id', id);
    },
  };
}

/** `request` with a body that fails with 413 once more than `limit` bytes have arrived. */
function withCountedBody(request: Request, limit: number, fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream }): Request {
  let received = 0;
  // A body that is a native stream needs the native TransformStream (the ponyfill's cannot pipe it).
  const Transform = request.body instanceof ReadableStream ? TransformStream : fetchAPI.TransformStream;
  const counted = request.body!.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        if (received > limit) controller.error(createGraphQLError(`Request body is over the limit of ${limit} bytes`, { extensions: { http: { status: 413 }, code: 'BAD_USER_INPUT' } }));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, signal: request.signal, body: counted, duplex: 'half' } as RequestInit);
}

/** GraphQL's validation "Did you mean …?" hints would spell out field and argument names. */
const withoutSuggestions = (message: string) => message.replace(/\s*Did you mean [^?]*\?$/, '');

/**
 * Every error a client sees carries one of the contract's codes. Errors that GraphQL and Yoga
 * raise before execution (syntax, unknown fields, wrong variable types, unreadable bodies) come
 * with their own codes or none; they are all the caller's input, so they become BAD_USER_INPUT.
 * Yoga's `originalError` detail on such errors is dropped outside development.
 */
function useErrorCodes(isDev: boolean): Plugin {
  const known = new Set<string>(ERROR_CODES);
  const normalize = (error: GraphQLError): GraphQLError => {
    const code = error.extensions?.code;
    const needsCode = typeof code !== 'string' || !known.has(code);
    const leaksDetail = !isDev && error.extensions?.originalError !== undefined;
    const suggests = withoutSuggestions(error.message) !== error.message;
    if (!needsCode && !leaksDetail && !suggests) return error;
    const { originalError: _detail, ...extensions } = error.extensions ?? {};
    return new GraphQLError(withoutSuggestions(error.message), {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: { ...(isDev ? error.extensions : extensions), code: needsCode ? 'BAD_USER_INPUT' : code },
    });
  };
  return {
    onResultProcess({ result, setResult }) {
      const results = Array.isArray(result) ? result : [result];
      let changed = false;
      const next = results.map((r) => {
        if (!r || typeof r !== 'object' || !('errors' in r) || !r.errors?.length) return r;
        const errors = r.errors.map((e) => normalize(e as GraphQLError));
        if (errors.every((e, i) => e === r.errors![i])) return r;
        changed = true;
        return { ...r, errors };
      });
      if (changed) setResult((Array.isArray(result) ? next : next[0]) as typeof result);
    },
  };
}

/** `replacement` at the place in the document (path, locations) where `error` was raised. */
function locatedLike(error: unknown, replacement: AppError): GraphQLError {
  if (!(error instanceof GraphQLError) || !error.path) return replacement;
  return new GraphQLError(replacement.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: replacement,
    extensions: replacement.extensions,
  });
}

/** Builds the GraphQL server from its dependencies. It never listens; main.ts does. */
export function createServer(deps: ServerDeps): GatewayServer {
  const { config, prisma, logger, authenticator, router, metrics, tracer, readiness, privacy } = deps;
  const requestIds = new WeakMap<Request, string>();
  const principals = new WeakMap<Request, Principal>();
  const isDev = config.env === 'development';
  const graphiql = {
    title: 'memory-gateway',
    defaultQuery: DEFAULT_QUERY,
    // Header values must be ISO-8859-1: a browser refuses to send anything else, and GraphiQL
    // then fails every request, the schema's included.
    headers: JSON.stringify({ Authorization: 'Bearer YOUR_API_KEY' }, null, 2),
    shouldPersistHeaders: true,
    endpoint: '/graphql',
  };
  const schema = getSubgraphSchema();
  const telemetry = createRequestTelemetry({
    schema,
    graphqlEndpoint: '/graphql',
    tracer,
    metrics,
    logger,
    requestIdOf: (request) => requestIds.get(request),
    clientRequestIdOf,
  });

  return createYoga<Record<string, unknown>, Context>({
    // The client-facing schema plus `_service` and `_entities`, so the same endpoint serves
    // clients and federation routers (schema/subgraph.graphql).
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    // useRequestBasics enforces config.maxBodyBytes.
    maxRequestBodySize: false,
    batching: { limit: MAX_BATCH_OPERATIONS },
    cors: corsOptions(config.corsOrigins),
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => {
        const [first] = args;
        // A database outage is not a bug: one line per failed request, with the driver's reason.
        if (first instanceof Error && isStoreUnavailable(first)) logger.warn({ reason: first.message.replace(/\s+/g, ' ').trim() }, 'store unavailable');
        else if (first instanceof Error) logger.error({ err: first }, 'unexpected error');
        else logger.error(args.map(String).join(' '));
      },
    },
    maskedErrors: {
      isDev,
      errorMessage: 'Unexpected error.',
      maskError: (error, message, dev) => {
        // AppErrors are written for clients; everything else is masked (stack only in development).
        if (error instanceof GraphQLError && error.originalError instanceof AppError) return error;
        if (isStoreUnavailable(error)) return locatedLike(error, storeUnavailable());
        return yogaMaskError(error, message, dev);
      },
    },
    // GraphiQL is served by useGraphiQLPage (rendered once, compressed, cached).
    graphiql: false,
    plugins: [
      telemetry.useTelemetryStart(),
      useReadiness(readiness),
      useGraphiQLPage('/graphql', async () => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiql)),
      useRequestBasics(config.maxBodyBytes, requestIds),
      useRequestGuards(),
      // Before the document is parsed: an anonymous caller costs a header check.
      useAuthentication(authenticator, principals),
      useDocumentLimits(config.queryLimits),
      useEntityLimit(config.requestLimits.entityRepresentations),
      // After the document limits: a refused document counts against no rate limit.
      useRateLimit({
        stores: deps.rateLimitStores ?? memoryRateLimitStores(config.rateLimits),
        // Metrics count per class: `read` / `write`.
        onRateLimited: (rateClass) => {
          metrics.rateLimited(rateClass === 'reads' ? 'read' : 'write');
          deps.onRateLimited?.(rateClass);
        },
        principalOf: (request) => principals.get(request),
      }),
      ...useCompiledExecution(),
      useErrorCodes(isDev),
      telemetry.useTelemetryEnd(),
    ],
    context: async ({ request }): Promise<Context> => {
      const requestId = requestIds.get(request) ?? randomUUID();
      const clientRequestId = clientRequestIdOf(request) ?? null;
      const principal = principals.get(request);
      if (!principal) {
        // Introspection-only documents run without a principal; nothing they resolve reads it.
        return anonymousContext({ request, requestId, clientRequestId, prisma, metrics, privacy, logger: logger.child({ requestId }) });
      }
      const observed = telemetry.of(request);
      if (observed) observed.tenant = principal.tenantId;
      const budget = new UpstreamBudget(config.requestLimits.upstreamCalls);
      const row = routingReadWith(principal);
      const stores = await router.storesFor(principal.tenantId, budget, { observer: observed, row });
      return {
        request,
        requestId,
        clientRequestId,
        principal,
        prisma,
        localDeletes: deps.localDeletes,
        stores,
        gatedStores: () => router.storesFor(principal.tenantId, budget, { observer: observed, gate: privacy.gate, row }),
        loaders: createUserListLoaders(stores, { signal: request.signal }),
        signal: request.signal,
        logger: logger.child({ requestId, tenant: principal.tenantId }),
        metrics,
        privacy,
      };
    },
  });
}

/** The context of an unauthenticated introspection request: anything tenant-bound refuses. */
function anonymousContext(base: Pick<Context, 'request' | 'requestId' | 'clientRequestId' | 'prisma' | 'logger' | 'metrics' | 'privacy'>): Context {
  const refuse = (): never => {
    throw new AppError('UNAUTHENTICATED', 'Missing Authorization header: send "Authorization: Bearer <token>"');
  };
  return Object.defineProperties({ ...base, signal: base.request.signal } as Context, {
    principal: { get: refuse },
    stores: { get: refuse },
    gatedStores: { get: refuse },
    loaders: { get: refuse },
    localDeletes: { get: refuse },
  });
}
