import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisRateLimitStores } from './rate-limit.js';
import { createRedisClient } from './redis.js';
import type { Logger } from 'pino';
import { authFreshness } from './auth/freshness.js';
import { createAuthenticator } from './auth/principal.js';
import { createScopeClaims } from './backends/claims.js';
import { UpstreamPool } from './backends/http.js';
import { providerFactories } from './backends/providers.js';
import { createStoreRouter, type ProviderFactories } from './backends/route.js';
import { createEventBus, type EventBus } from './bus.js';
import type { Config } from './config.js';
import { createPrisma, type CreatePrismaOptions } from './db.js';
import { inFlightLimitMs, postgresLocalDeletes, sqliteLocalDeletes, startDeleteRecovery } from './deletes.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { createPrometheusMetrics, metricsOff, type PrometheusMetrics } from './metrics.js';
import { createPrivacyServices, type PrivacyDeps, type PrivacyServices } from './privacy/services.js';
import { createReadiness } from './readiness.js';
import { open } from './secrets.js';
import { createServer, type GatewayServer } from './server.js';
import { createTracer } from './tracing.js';

export interface AppOptions extends CreatePrismaOptions {
  /** Replaces the provider adapters (tests use it to inject failing stores). */
  providers?: ProviderFactories;
  /** Forget job timings (tests shorten them). */
  forget?: PrivacyDeps['forget'];
}

export interface App {
  server: GatewayServer;
  prisma: PrismaClient;
  /** The metrics to serve on METRICS_PORT; undefined when it is unset (metrics off). */
  metrics?: PrometheusMetrics;
  /** Starts a graceful shutdown: `/ready` answers 503 from now on; requests are still served. */
  drain(): void;
  /** Events for every instance (through Redis with REDIS_URL): cache invalidation, changes. */
  bus: EventBus;
  /** Bulk deletes' gate, forget jobs (resumed at start, stopped at close), receipts, the change stream. */
  privacy: PrivacyServices;
  close(): Promise<void>;
}

/** Wires the real dependencies from a configuration. Used by main.ts and by the tests. */
export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const prisma = await createPrisma(config, { logger, ...options });
  const metrics = config.metricsPort === undefined ? undefined : await createPrometheusMetrics();
  const tracer = await createTracer(config, logger);
  const readiness = createReadiness(prisma, config.databaseUrl);
  // Verified API keys are served from memory while the database says keys and tenants are unchanged.
  const freshness = authFreshness(config.databaseUrl, logger);
  const pool = new UpstreamPool(config.upstream, logger, metrics ?? metricsOff);
  const bus = createEventBus(config, logger);
  // With REDIS_URL the rate-limit counts are shared by every instance.
  const rateLimitRedis = createRedisClient(config, { role: 'rate-limit', logger });
  // Counted shared from the first request when Redis answers at start; per instance otherwise.
  if (rateLimitRedis && rateLimitRedis.status !== 'ready') {
    await Promise.race([once(rateLimitRedis, 'ready').catch(() => undefined), sleep(2_000)]);
  }
  const secret = config.gatewaySecret;
  const localDeletes = config.databaseUrl.startsWith('file:')
    ? sqliteLocalDeletes(config.databaseUrl, { onQuery: options.onQuery && ((sql) => options.onQuery!(sql, '[]')) })
    : postgresLocalDeletes(prisma);
  const router = createStoreRouter({
    config,
    prisma,
    providers: options.providers ?? providerFactories(config, pool),
    openSettings: secret ? (tenantId, sealed) => open(secret, tenantId, sealed) : undefined,
    claims: createScopeClaims(prisma, { allowShared: config.allowSharedUpstreamScope, logger }),
  });
  // Forget jobs left running by a previous start or a dead instance resume here.
  const privacy = createPrivacyServices({ config, prisma, router, logger, metrics: metrics ?? metricsOff, localDeletes, bus, forget: options.forget });
  const server = createServer({
    config,
    prisma,
    logger,
    metrics: metrics ?? metricsOff,
    tracer,
    readiness,
    authenticator: createAuthenticator(config, prisma, logger, freshness),
    localDeletes,
    router,
    rateLimitStores: rateLimitRedis ? redisRateLimitStores(rateLimitRedis, config.rateLimits) : undefined,
    privacy,
  });
  // Provider deletes left `pending` by a crash are settled by sending them again (contract § Guarantees).
  const recovery = startDeleteRecovery({ prisma, router, logger, olderThanMs: inFlightLimitMs(config) });
  return {
    server,
    prisma,
    metrics,
    drain() {
      readiness.drain();
      // Change streams never end by themselves: they complete now, and their clients reconnect to another instance.
      privacy.changes.endAll();
    },
    bus,
    privacy,
    async close() {
      await privacy.close();
      await recovery.stop();
      await server.dispose();
      await pool.close();
      localDeletes.close();
      // Spans still buffered are exported before the process goes.
      await tracer.shutdown();
      await bus.close();
      await freshness.close();
      rateLimitRedis?.disconnect();
      await prisma.$disconnect();
    },
  };
}
