import { createServer as createHttpServer } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { migrateDatabase } from './migrate.js';
import { resealLegacySettings, unreadableSettings } from './tenants.js';

/** Process entry: config → migrate → createApp → listen → graceful shutdown. */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);

  await migrateDatabase(config);
  const app = await createApp(config, logger);
  if (!config.gatewaySecret && (await app.prisma.tenant.count({ where: { sealedSettings: { not: null } } })) > 0) {
    console.error('GATEWAY_SECRET is required: tenants have stored provider settings, which are encrypted with it.');
    await app.close();
    process.exit(1);
  }
  if (config.gatewaySecret) {
    const { checked, unreadable } = await unreadableSettings(app.prisma, config.gatewaySecret);
    if (checked > 0 && unreadable.length === checked) {
      console.error('GATEWAY_SECRET differs from the one the stored tenant settings were sealed with: start with that secret.');
      await app.close();
      process.exit(1);
    }
    if (unreadable.length > 0) logger.error({ tenants: unreadable }, 'stored settings of these tenants cannot be opened; set them again with tenants set');
    const resealed = await resealLegacySettings(app.prisma, config.gatewaySecret);
    if (resealed > 0) logger.info({ tenants: resealed }, 'stored tenant settings re-sealed, bound to their tenant');
  }
  if (config.allowSharedUpstreamScope) {
    logger.warn('ALLOW_SHARED_UPSTREAM_SCOPE=true: tenants may share an upstream scope and then see each other\'s data there');
  }
  const http = createHttpServer(app.server);
  http.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, resolve);
  });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host}:${port}/graphql`;
  logger.info({ url, database: config.databaseUrl.startsWith('file:') ? config.databaseUrl : 'postgresql' }, 'memory-gateway listening');
  console.log(
    [
      '',
      `  memory-gateway is listening on ${url}`,
      '  Open it in a browser for GraphiQL. Reading the schema needs no key; every operation does. Create one with:',
      '',
      '    npx memory-gateway keys create --tenant <your-tenant-id>',
      '',
      '  and send it as "Authorization: Bearer <key>".',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Stop accepting, let in-flight requests finish, then force-close what is left.
    const force = setTimeout(() => http.closeAllConnections(), 10_000);
    force.unref();
    http.close(() => {
      app
        .close()
        .then(() => {
          logger.info('stopped');
          process.exit(0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'error while stopping');
          process.exit(1);
        });
    });
    http.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
