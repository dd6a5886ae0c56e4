import type { Logger } from 'pino';
import type { UpstreamGate } from '../backends/gate.js';
import type { StoreRouter } from '../backends/route.js';
import type { EventBus } from '../bus.js';
import type { Config } from '../config.js';
import type { LocalDeleteTransactions } from '../deletes.js';
import { busChangeBus, type ChangeBus } from '../events/change-bus.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Metrics } from '../metrics.js';
import { createForgetJobs, type ForgetJobOptions, type ForgetJobs } from './forget-jobs.js';
import { createReceiptSigner, type ReceiptSigner } from './receipts.js';
import { createUpstreamGate } from './upstream-gate.js';

/**
 * What bulk deletes, forget jobs and the change stream share across the requests of one
 * instance. Built by app.ts, carried on every request's context.
 */
export interface PrivacyServices {
  readonly changes: ChangeBus;
  /** Bounds and paces the upstream calls of bulk deletes and forget jobs, per provider credential. */
  readonly gate: UpstreamGate;
  readonly forget: ForgetJobs;
  readonly receipts: ReceiptSigner;
  /** Stops the forget jobs running here (their leases go back for the next instance or start). */
  close(): Promise<void>;
}

export interface PrivacyDeps {
  config: Pick<Config, 'receiptSigningKey' | 'gatewaySecret' | 'forgetLeaseMs'>;
  prisma: PrismaClient;
  router: StoreRouter;
  logger: Logger;
  metrics: Metrics;
  localDeletes: LocalDeleteTransactions;
  bus: Pick<EventBus, 'pubsub'>;
  forget?: ForgetJobOptions;
}

export function createPrivacyServices(deps: PrivacyDeps): PrivacyServices {
  const { config, prisma, router, logger, metrics, localDeletes } = deps;
  const changes = busChangeBus(deps.bus);
  const gate = createUpstreamGate();
  const receipts = createReceiptSigner({ prisma, configuredKey: config.receiptSigningKey, gatewaySecret: config.gatewaySecret });
  const forget = createForgetJobs({ prisma, router, logger, metrics, localDeletes, changes, gate, receipts, leaseMs: config.forgetLeaseMs, ...deps.forget });
  return { changes, gate, forget, receipts, close: () => forget.close() };
}
