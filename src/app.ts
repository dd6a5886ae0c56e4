import type { Logger } from 'pino';
import { createAuthenticator } from './auth/principal.js';
import { createScopeClaims } from './backends/claims.js';
import { UpstreamPool } from './backends/http.js';
import { providerFactories } from './backends/providers.js';
import { createStoreRouter, type ProviderFactories } from './backends/route.js';
import type { Config } from './config.js';
import { createPrisma, type CreatePrismaOptions } from './db.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { createPrivacyServices, type PrivacyDeps, type PrivacyServices } from './privacy/services.js';
import { open } from './secrets.js';
import { createServer, type GatewayServer } from './server.js';

export interface AppOptions extends CreatePrismaOptions {
  /** Replaces the provider adapters (tests use it to inject failing stores). */
  providers?: ProviderFactories;
  /** Forget job timings (tests shorten them). */
  forget?: PrivacyDeps['forget'];
}

export interface App {
  server: GatewayServer;
  prisma: PrismaClient;
  privacy: PrivacyServices;
  close(): Promise<void>;
}

/** Wires the real dependencies from a configuration. Used by main.ts and by the tests. */
export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const prisma = await createPrisma(config, options);
  const pool = new UpstreamPool(config.upstream, logger);
  const secret = config.gatewaySecret;
  const router = createStoreRouter({
    config,
    prisma,
    providers: options.providers ?? providerFactories(config, pool),
    openSettings: secret ? (tenantId, sealed) => open(secret, tenantId, sealed) : undefined,
    claims: createScopeClaims(prisma, { allowShared: config.allowSharedUpstreamScope }),
  });
  const privacy = createPrivacyServices({ config, prisma, router, logger, forget: options.forget });
  const server = createServer({ config, prisma, logger, authenticator: createAuthenticator(config, prisma), router, privacy });
  return {
    server,
    prisma,
    privacy,
    async close() {
      await privacy.close();
      await server.dispose();
      await pool.close();
      await prisma.$disconnect();
    },
  };
}
