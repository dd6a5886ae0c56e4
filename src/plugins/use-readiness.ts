import type { Plugin } from 'graphql-yoga';
import type { Readiness } from '../readiness.js';

/**
 * `GET /ready`: 200 `{"status":"ready"}`, or 503 `{"status":"unavailable","reason":…}` while the
 * store does not answer, has migrations to apply, or the process is shutting down. The reason
 * is one of a few fixed sentences: never a driver error, which may name hosts or users.
 *
 * Matched on the path alone: Yoga's `useReadinessCheck` also tries a URLPattern on every request
 * that is not for it, the GraphQL ones included, and that match cost more than the check.
 */
export function useReadiness(readiness: Readiness): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      // Synchronous for every other path: an async hook would cost each request a promise.
      if (url.pathname !== '/ready') return;
      return readiness.check().then((state) => {
        const body = state.ready ? { status: 'ready' } : { status: 'unavailable', reason: state.reason };
        endResponse(
          new fetchAPI.Response(JSON.stringify(body), {
            status: state.ready ? 200 : 503,
            headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
          }),
        );
      });
    },
  };
}
