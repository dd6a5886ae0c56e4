import type { ProviderName, UpstreamResponse } from './http.js';

/** One upstream call as a gate sees it: whose credential, which scope, which route. */
export interface UpstreamCall {
  provider: ProviderName;
  /** A hash of the URL and credential the call is sent with (never the credential itself). */
  credential: string;
  /** A hash of the upstream scope (URL and partition) the call addresses. */
  scope: string;
  method: string;
  path: string;
}

/**
 * Wraps every upstream call of the stores it is given to (route.ts `storesFor` options): bulk
 * deletes and forget jobs use one to bound concurrency per credential and to pace calls to what
 * the provider allows. `send` is the call itself, retries included.
 */
export interface UpstreamGate {
  run(call: UpstreamCall, send: () => Promise<UpstreamResponse>): Promise<UpstreamResponse>;
}
