import diagnosticsChannel from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestGateway } from './gateway.js';

/** Runs `fn` and says how long it took, in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Polls `condition` every 10 ms until it holds; throws after `timeoutMs`, however busy the machine. */
export async function waitUntil(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/**
 * Records the upstream requests to `baseUrl` that undici ended with an error (aborts included),
 * as `<path> <error name>`. undici reports them on this diagnostics channel whoever sent them.
 */
export function watchUpstreamErrors(baseUrl: string): { errors: string[]; stop(): void } {
  const host = new URL(baseUrl).host;
  const errors: string[] = [];
  const onError = (message: unknown) => {
    const { request, error } = message as { request: { origin: string; path: string }; error: Error };
    if (String(request.origin).includes(host)) errors.push(`${request.path} ${error.name}`);
  };
  diagnosticsChannel.subscribe('undici:request:error', onError);
  return { errors, stop: () => diagnosticsChannel.unsubscribe('undici:request:error', onError) };
}

/** A GraphQL request through the gateway that the test can abort, as a client that goes away. */
export function abortableRequest(gateway: TestGateway, token: string, query: string, variables: Record<string, unknown>) {
  const client = new AbortController();
  const done = gateway
    .fetch('/graphql', {
      method: 'POST',
      signal: client.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    })
    .then((r) => r.text())
    .catch((error: Error) => error.name);
  return { abort: () => client.abort(), done };
}
