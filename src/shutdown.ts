import type { Server } from 'node:http';

export interface InFlight {
  readonly count: number;
  /**
   * From now on responses close their connection (clients reconnect elsewhere); resolves once no
   * request is in flight. Requests that still arrive are served: a load balancer needs a moment
   * to notice that `/ready` fails, and refusing them would fail its clients.
   */
  drain(): Promise<void>;
}

/** Counts the requests a server is answering, so that a shutdown can wait for them. */
export function trackInFlight(server: Server): InFlight {
  let count = 0;
  let draining = false;
  const idle: (() => void)[] = [];
  server.on('request', (_request, response) => {
    count++;
    if (draining) response.setHeader('connection', 'close');
    response.once('close', () => {
      count--;
      if (draining && count === 0) for (const resolve of idle.splice(0)) resolve();
    });
  });
  return {
    get count() {
      return count;
    },
    drain() {
      draining = true;
      return count === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
    },
  };
}
