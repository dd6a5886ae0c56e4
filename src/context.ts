import type { Logger } from 'pino';
import type { Principal } from './auth/principal.js';
import type { Stores } from './backends/types.js';
import type { LocalDeleteTransactions } from './deletes.js';
import type { PrismaClient } from './generated/prisma/client.js';
import type { UserListLoaders } from './loaders.js';
import type { Metrics } from './metrics.js';
import type { PrivacyServices } from './privacy/services.js';

/** Built fresh for every request (server.ts); nothing here outlives it. */
export interface Context {
  readonly request: Request;
  /** The gateway's own id for the request (audit, logs, the X-Request-Id response header). */
  readonly requestId: string;
  /** The X-Request-Id the client sent, when it was sane; kept for correlation only. */
  readonly clientRequestId: string | null;
  readonly principal: Principal;
  readonly prisma: PrismaClient;
  /** Local deletes with their audit record in one transaction (src/audit.ts). */
  readonly localDeletes: LocalDeleteTransactions;
  /** The stores the tenant is routed to, chosen once for this request. */
  readonly stores: Stores;
  /** The same stores with the instance's upstream gate in front of every call, on this request's budget (bulk deletes). */
  gatedStores(): Promise<Stores>;
  /** Batches many users' lists into one store call (federation `_entities`). */
  readonly loaders: UserListLoaders;
  readonly logger: Logger;
  /** Counts what the request does (deletes, through the audit). */
  readonly metrics: Metrics;
  /** Aborted when the client disconnects; passed to every upstream call. */
  readonly signal: AbortSignal;
  /** Bulk deletes, forget jobs and the change stream, shared by the instance's requests. */
  readonly privacy: PrivacyServices;
}
