import { useReadinessCheck, type Plugin } from 'graphql-yoga';
import type { Readiness } from '../readiness.js';

/**
 * `GET /ready`: 200 `{"status":"ready"}`, or 503 `{"status":"unavailable","reason":…}` while the
 * store does not answer, has migrations to apply, or the process is shutting down. The reason
 * is one of a few fixed sentences: never a driver error, which may name hosts or users.
 */
export function useReadiness(readiness: Readiness): Plugin {
  return useReadinessCheck({
    endpoint: '/ready',
    async check({ fetchAPI }) {
      const state = await readiness.check();
      const body = state.ready ? { status: 'ready' } : { status: 'unavailable', reason: state.reason };
      return new fetchAPI.Response(JSON.stringify(body), {
        status: state.ready ? 200 : 503,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
      });
    },
  });
}
