import { parse, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import { AppError } from '../errors.js';
import { rateCost, type RateClass, type RateCost } from '../limits.js';
import type { RateLimitState, RateLimitStore } from '../rate-limit.js';

export interface RateLimitOptions {
  /** One store per class; a class without a store is not limited. */
  stores: Partial<Record<RateClass, RateLimitStore>>;
  /** Called once for every refused request (metrics count them per class). */
  onRateLimited?: (rateClass: RateClass) => void;
  /**
   * The authenticated principal of a request (none for introspection without a key). Known
   * before the document is parsed, so even an answer refused by validation carries the
   * X-RateLimit-* headers.
   */
  principalOf: (request: Request) => Principal | undefined;
}

interface Outcome {
  /** The class the headers report: the one that refused, else writes when any, else reads. */
  rateClass: RateClass;
  state: RateLimitState;
  refused: boolean;
}

/** Rate limits count per tenant for API keys and per tenant and user for end users. */
export function principalKey(principal: Principal): string {
  return principal.kind === 'tenant-key' ? JSON.stringify([principal.tenantId]) : JSON.stringify([principal.tenantId, principal.userId]);
}

const CLASSES: RateClass[] = ['writes', 'reads'];

/**
 * Gateway rate limits (contract § Limits). The decision is taken once per HTTP request, before
 * the first of its operations executes, for everything the request carries (all operations of a
 * batch): it runs whole or is refused whole with RATE_LIMITED (HTTP 429, Retry-After) and nothing
 * of it runs. Every authenticated answer carries X-RateLimit-Limit/-Remaining/-Reset.
 */
export function useRateLimit(options: RateLimitOptions): Plugin {
  const { stores, onRateLimited, principalOf } = options;
  const batches = new WeakMap<Request, GraphQLParams[]>();
  const outcomes = new WeakMap<Request, Promise<Outcome | undefined>>();

  /** What the whole request costs: every operation it carries, parsed where not yet parsed. */
  const costOf = (request: Request, current: ExecutionArgs): RateCost => {
    const params = batches.get(request);
    if (!params || params.length <= 1) {
      return rateCost(current.document, current.operationName, current.variableValues as Record<string, unknown> | undefined);
    }
    const total: RateCost = { reads: 0, writes: 0 };
    for (const p of params) {
      let document: DocumentNode;
      try {
        // Operations of a batch that do not parse are refused on their own and cost nothing.
        document = typeof p.query === 'string' ? parse(p.query, { noLocation: true, maxTokens: 5000 }) : current.document;
      } catch {
        continue;
      }
      const cost = rateCost(document, p.operationName, p.variables);
      total.reads += cost.reads;
      total.writes += cost.writes;
    }
    return total;
  };

  const decide = async (principal: Principal, cost: RateCost): Promise<Outcome | undefined> => {
    const key = principalKey(principal);
    const taken: [RateClass, RateLimitState][] = [];
    for (const rateClass of CLASSES) {
      const store = stores[rateClass];
      const points = cost[rateClass];
      if (!store || points === 0) continue;
      const decision = await store.take(key, points);
      if (!decision.allowed) {
        // All or nothing across classes too: give back what the other class already took.
        for (const [other] of taken) await stores[other]!.giveBack(key, cost[other]);
        onRateLimited?.(rateClass);
        return { rateClass, state: decision, refused: true };
      }
      taken.push([rateClass, decision]);
    }
    if (taken.length > 0) return { rateClass: taken[0]![0], state: taken[0]![1], refused: false };
    // Nothing counted (introspection with a key): report the reads budget, untouched.
    const reads = stores.reads;
    return reads ? { rateClass: 'reads', state: await reads.peek(key), refused: false } : undefined;
  };

  const refusal = ({ rateClass, state }: Outcome) => {
    const message =
      state.limit === 0 || state.remaining < state.limit
        ? `Rate limit exceeded: at most ${state.limit} ${rateClass} per minute; retry in ${state.resetSeconds} s`
        : `This request needs more ${rateClass} than the limit of ${state.limit} per minute allows`;
    return new AppError('RATE_LIMITED', message, { retryAfter: state.resetSeconds });
  };

  const gate = async (args: ExecutionArgs, stop: (result: { errors: AppError[] }) => void) => {
    const request = (args.contextValue as { request?: Request } | undefined)?.request;
    // Authenticated before parsing (use-authentication.ts); introspection without a key has none.
    const principal = request ? principalOf(request) : undefined;
    if (!request || !principal) return;
    let outcome = outcomes.get(request);
    if (!outcome) {
      outcome = decide(principal, costOf(request, args));
      outcomes.set(request, outcome);
    }
    const decided = await outcome;
    if (decided?.refused) stop({ errors: [refusal(decided)] });
  };

  return {
    onRequestParse({ request }) {
      return {
        onRequestParseDone({ requestParserResult }) {
          // Kept so that the first operation of a batch can count the whole batch.
          batches.set(request, Array.isArray(requestParserResult) ? requestParserResult : [requestParserResult]);
        },
      };
    },
    onExecute({ args, setResultAndStopExecution }) {
      return gate(args, setResultAndStopExecution as (result: { errors: AppError[] }) => void);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      return gate(args, setResultAndStopExecution as (result: { errors: AppError[] }) => void);
    },
    async onResponse({ request, response, setResponse, fetchAPI }) {
      let outcome = await outcomes.get(request);
      if (!outcome) {
        const principal = principalOf(request);
        const reads = stores.reads;
        if (!principal || !reads) return;
        outcome = { rateClass: 'reads', state: await reads.peek(principalKey(principal)), refused: false };
      }
      const rateHeaders: [string, string][] = [
        ['x-ratelimit-limit', String(outcome.state.limit)],
        ['x-ratelimit-remaining', String(outcome.state.remaining)],
        ['x-ratelimit-reset', String(outcome.state.resetSeconds)],
      ];
      if (!outcome.refused) {
        for (const [name, value] of rateHeaders) response.headers.set(name, value);
        return;
      }
      // A refused batch answers one error per operation; the request as a whole is a 429.
      const headers = new fetchAPI.Headers(response.headers);
      for (const [name, value] of rateHeaders) headers.set(name, value);
      headers.set('retry-after', String(outcome.state.resetSeconds));
      setResponse(new fetchAPI.Response(response.body, { status: 429, statusText: 'Too Many Requests', headers }));
    },
  };
}
