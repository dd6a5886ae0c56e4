import type { Logger } from 'pino';
import type { Principal } from './auth/principal.js';
import type { Stores } from './backends/types.js';
import type { PrismaClient } from './generated/prisma/client.js';
import type { UserListLoaders } from './loaders.js';
import type { Metrics } from './metrics.js';

/** Built fresh for every request (server.ts); nothing here outlives it. */
export interface Context {
  readonly request: Request;
  readonly requestId: string;
  readonly principal: Principal;
  readonly prisma: PrismaClient;
  /** The stores the tenant is routed to, chosen once for this request. */
  readonly stores: Stores;
  /** Batches many users' lists into one store call (federation `_entities`). */
  readonly loaders: UserListLoaders;
  readonly logger: Logger;
  /** Counts what the request does (deletes, through the audit). */
  readonly metrics: Metrics;
  /** Aborted when the client disconnects; passed to every upstream call. */
  readonly signal: AbortSignal;
}
