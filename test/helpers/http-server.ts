import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestGateway } from './gateway.js';

export interface ServedGateway {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:41234/graphql. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a test gateway over real HTTP on a free loopback port, for software that speaks HTTP
 * itself (GraphQL clients, a federation gateway, a browser) rather than through `yoga.fetch`.
 */
export async function serveOverHttp(gateway: TestGateway): Promise<ServedGateway> {
  return serveHandler(gateway.app.server);
}

/** Serves any Node request handler (a Yoga server, a federation gateway) the same way. */
export async function serveHandler(handler: RequestListener, path = '/graphql'): Promise<ServedGateway> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
