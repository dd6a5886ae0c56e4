import type { Logger } from 'pino';
import { createAuthenticator } from './auth/principal.js';
import { UpstreamPool } from './backends/http.js';
import { providerFactories } from './backends/providers.js';
import { createStoreRouter, type ProviderFactories } from './backends/route.js';
import { createEventBus, type EventBus } from './bus.js';
import type { Config } from './config.js';
import { createPrisma, type CreatePrismaOptions } from './db.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { open } from './secrets.js';
import { createServer, type GatewayServer } from './server.js';

export interface AppOptions extends CreatePrismaOptions {
  /** Replaces the provider adapters (tests use it to inject failing stores). */
  providers?: ProviderFactories;
}

export interface App {
  server: GatewayServer;
  prisma: PrismaClient;
  /** Events for every instance (through Redis with REDIS_URL): cache invalidation, changes. */
  bus: EventBus;
  close(): Promise<void>;
}

/** Wires the real dependencies from a configuration. Used by main.ts and by the tests. */
export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const prisma = await createPrisma(config, { logger, ...options });
  const pool = new UpstreamPool(config.upstream, logger);
  const bus = createEventBus(config, logger);
  const secret = config.gatewaySecret;
  const server = createServer({
    config,
    prisma,
    logger,
    authenticator: createAuthenticator(config, prisma),
    router: createStoreRouter({
      config,
      prisma,
      providers: options.providers ?? providerFactories(config, pool),
      openSettings: secret ? (sealed) => open(secret, sealed) : undefined,
    }),
  });
  return {
    server,
    prisma,
    bus,
    async close() {
      await server.dispose();
      await pool.close();
      await bus.close();
      await prisma.$disconnect();
    },
  };
}
