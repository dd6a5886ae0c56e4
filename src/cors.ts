import type { CORSOptions } from 'graphql-yoga';

/** Response headers browser code may read: request ids, the rate-limit state and Retry-After. */
export const EXPOSED_HEADERS = ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'];

/**
 * CORS per CORS_ORIGINS (contract § Operations). Tokens travel in the Authorization header, never
 * in cookies, so credentials are allowed only for an explicit list of origins; with `*` any origin
 * may call without them.
 */
export function corsOptions(origins: readonly string[]): CORSOptions {
  const any = origins.includes('*');
  return {
    origin: any ? '*' : [...origins],
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: EXPOSED_HEADERS,
    credentials: !any,
    maxAge: 600,
  };
}
