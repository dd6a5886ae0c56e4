import type { Logger } from 'pino';
import { createAuthenticator } from './auth/principal.js';
import { createStoreRouter } from './backends/route.js';
import type { Config } from './config.js';
import { createPrisma, type CreatePrismaOptions } from './db.js';
import { createServer, type GatewayServer } from './server.js';
import type { PrismaClient } from './generated/prisma/client.js';

export interface App {
  server: GatewayServer;
  prisma: PrismaClient;
  close(): Promise<void>;
}

/** Wires the real dependencies from a configuration. Used by main.ts and by the tests. */
export async function createApp(config: Config, logger: Logger, options: CreatePrismaOptions = {}): Promise<App> {
  const prisma = await createPrisma(config, options);
  const server = createServer({
    config,
    prisma,
    logger,
    authenticator: createAuthenticator(config, prisma),
    router: createStoreRouter({ config, prisma }),
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
