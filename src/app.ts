import type { Logger } from 'pino';
import { createAuthenticator } from './auth/principal.js';
import { createStoreRouter, type ProviderFactories } from './backends/route.js';
import type { Config } from './config.js';
import { createPrisma, type CreatePrismaOptions } from './db.js';
import { createServer, type GatewayServer } from './server.js';
import type { PrismaClient } from './generated/prisma/client.js';

export interface AppOptions extends CreatePrismaOptions {
  /** Provider adapters by family and backend name (tests pass fakes' wiring here). */
  providers?: ProviderFactories;
}

export interface App {
  server: GatewayServer;
  prisma: PrismaClient;
  close(): Promise<void>;
}

/** Wires the real dependencies from a configuration. Used by main.ts and by the tests. */
export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const prisma = await createPrisma(config, options);
  const server = createServer({
    config,
    prisma,
    logger,
    authenticator: createAuthenticator(config, prisma),
    router: createStoreRouter({ config, prisma, providers: options.providers }),
  });
  return {
    server,
    prisma,
    async close() {
      await server.dispose();
      await prisma.$disconnect();
    },
  };
}
