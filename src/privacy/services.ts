import type { Logger } from 'pino';
import { UpstreamBudget } from '../backends/budget.js';
import type { UpstreamGate } from '../backends/gate.js';
import type { StoreRouter } from '../backends/route.js';
import type { Stores } from '../backends/types.js';
import type { Config } from '../config.js';
import { inProcessChangeBus, type ChangeBus } from '../events/change-bus.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { createForgetJobs, type ForgetJobs, type ForgetJobOptions } from './forget-jobs.js';
import { createReceiptSigner, type ReceiptSigner } from './receipts.js';
import { createUpstreamGate } from './upstream-gate.js';

/**
 * What bulk deletes, forget jobs and the change stream share across the requests of one
 * instance. Built by app.ts, carried on every request's context.
 */
export interface PrivacyServices {
  readonly changes: ChangeBus;
  /** Bounds and paces the upstream calls of bulk deletes and forget jobs. */
  readonly gate: UpstreamGate;
  /** The tenant's stores with the gate in front of every upstream call. */
  storesFor(tenantId: string, options?: { budget?: UpstreamBudget; gate?: UpstreamGate }): Promise<Stores>;
  readonly forget: ForgetJobs;
  readonly receipts: ReceiptSigner;
  close(): Promise<void>;
}

export interface PrivacyDeps {
  config: Pick<Config, 'requestLimits' | 'receiptSigningKey' | 'gatewaySecret' | 'forgetLeaseMs'>;
  prisma: PrismaClient;
  router: StoreRouter;
  logger: Logger;
  changes?: ChangeBus;
  forget?: ForgetJobOptions;
}

export function createPrivacyServices(deps: PrivacyDeps): PrivacyServices {
  const { config, prisma, router, logger } = deps;
  const changes = deps.changes ?? inProcessChangeBus();
  const gate = createUpstreamGate();
  const receipts = createReceiptSigner({ prisma, configuredKey: config.receiptSigningKey, gatewaySecret: config.gatewaySecret });
  const storesFor: PrivacyServices['storesFor'] = (tenantId, options = {}) =>
    router.storesFor(tenantId, options.budget ?? new UpstreamBudget(config.requestLimits.upstreamCalls), { gate: options.gate ?? gate });
  const forget = createForgetJobs({ prisma, router, logger, changes, gate, storesFor, receipts, leaseMs: config.forgetLeaseMs, ...deps.forget });
  return {
    changes,
    gate,
    storesFor,
    forget,
    receipts,
    close: () => forget.close(),
  };
}
