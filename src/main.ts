import { createServer as createHttpServer, type Server } from 'node:http';
import { ConfigError, loadConfig, type Config } from './config.js';

/** How long a shutdown waits for requests in flight before closing their connections. */
const DRAIN_TIMEOUT_MS = 10_000;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * Process entry: config → migrate → createApp → listen → graceful shutdown. The configuration
 * is checked before anything else is loaded, so a bad variable is reported at once.
 */
async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const [{ createApp }, { createLogger }, { migrateDatabase }, { metricsHandler }, { trackInFlight }, { resealLegacySettings, unreadableSettings }] = await Promise.all([
    import('./app.js'),
    import('./logger.js'),
    import('./migrate.js'),
    import('./metrics.js'),
    import('./shutdown.js'),
    import('./tenants.js'),
  ]);
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
    logger.warn("ALLOW_SHARED_UPSTREAM_SCOPE=true: tenants may share an upstream scope and then see each other's data there");
  }
  const http = createHttpServer();
  http.keepAliveTimeout = 65_000;
  // Counted before the app sees the request, so that a draining response still gets its header.
  const inFlight = trackInFlight(http);
  http.on('request', app.server);

  // Handlers go in before anything is announced: a signal that finds none kills the process at once.
  let metricsServer: Server | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Not ready from this moment, so load balancers stop sending; requests in flight (a proxied
    // call waiting on a slow provider included) finish before the process goes.
    app.drain();
    logger.info({ signal, inFlight: inFlight.count }, 'shutting down: not ready; finishing the requests in flight');
    const force = setTimeout(() => {
      logger.warn({ inFlight: inFlight.count }, `requests still in flight after ${DRAIN_TIMEOUT_MS} ms; closing their connections`);
      http.closeAllConnections();
    }, DRAIN_TIMEOUT_MS);
    force.unref();
    try {
      await inFlight.drain();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeIdleConnections();
      });
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      await app.close();
      logger.info('stopped');
      // Written out before exiting, in order: pino writes stdout asynchronously.
      logger.flush(() => process.exit(0));
    } catch (error) {
      logger.error({ err: error }, 'error while stopping');
      logger.flush(() => process.exit(1));
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const port = await listen(http, config.port, config.host);
  const url = `http://${config.host}:${port}/graphql`;
  logger.info({ url, database: config.databaseUrl.startsWith('file:') ? config.databaseUrl : 'postgresql' }, 'memory-gateway listening');

  // Metrics get a listener of their own: never reachable on the public port.
  if (app.metrics && config.metricsPort !== undefined) {
    metricsServer = createHttpServer(metricsHandler(app.metrics));
    const metricsPort = await listen(metricsServer, config.metricsPort, config.host);
    logger.info({ url: `http://${config.host}:${metricsPort}/metrics` }, 'metrics listening');
  }

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
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
