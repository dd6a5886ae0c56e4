import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { auditedBatch, type BatchItem, type DeleteJournal } from '../audit.js';
import { UpstreamBudget } from '../backends/budget.js';
import type { UpstreamGate } from '../backends/gate.js';
import type { StoreRouter } from '../backends/route.js';
import type { BackendName, CallOptions, Connection, Stores } from '../backends/types.js';
import type { DeleteCall, LocalDeleteTransactions } from '../deletes.js';
import { isAppError } from '../errors.js';
import type { ChangeBus, Family } from '../events/change-bus.js';
import type { Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { Metrics } from '../metrics.js';
import type { ReceiptSigner } from './receipts.js';
import { countingGate } from './upstream-gate.js';

export type ForgetStatus = 'RUNNING' | 'COMPLETED' | 'PARTIAL' | 'FAILED';
export const FAMILIES: readonly Family[] = ['userEvents', 'userMemories', 'memories'];

/** What a job remembers of one family between steps (ForgetJob.parts); the counts live in ForgetItem. */
export interface PartState {
  family: Family;
  backend: BackendName;
  status: ForgetStatus;
  /** inventory: listing the user's items; delete: deleting them; verify: listing again; done. */
  phase: 'inventory' | 'delete' | 'verify' | 'done';
  /** How often a verifying listing found items created since the inventory (they are deleted too). */
  rounds: number;
  /** Upstream calls made, retries included (local store: delete statements). */
  attempts: number;
  verifiedAbsent: boolean;
  error: string | null;
}

export interface ForgetJobOptions {
  /** How long a lease lasts; the runner renews it every third of that. */
  leaseMs?: number;
  /** How often an instance looks for jobs nobody holds (default: half the lease). */
  pollMs?: number;
  /** How long `request` waits for the job before answering with it RUNNING. */
  answerWithinMs?: number;
}

export interface ForgetRequest {
  tenantId: string;
  userId: string;
  actor: string;
  dryRun: boolean;
  requestId: string;
}

export interface ForgetJobs {
  /** Starts a forget, or finds the one of this user that is running; waits a little; returns its id. */
  request(input: ForgetRequest): Promise<string>;
  /** Stops running jobs (handing their leases back) and the polling. */
  close(): Promise<void>;
}

interface Deps {
  prisma: PrismaClient;
  router: StoreRouter;
  logger: Logger;
  metrics: Metrics;
  localDeletes: LocalDeleteTransactions;
  changes: ChangeBus;
  gate: UpstreamGate;
  receipts: ReceiptSigner;
  leaseMs: number;
}

/** Items listed or deleted per step. */
const BATCH = 100;
/** How often a verifying listing may send the job back to delete items created meanwhile. */
const MAX_ROUNDS = 5;
const UUID_V4_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * Upstream calls one step of a job (listing one page, deleting one batch) may make. A job is not
 * a request: MAX_UPSTREAM_CALLS_PER_REQUEST bounds what one client document fans out to and would
 * cut a large forget short. Each step gets fresh stores with a budget of its own, sized to the
 * step (a delete per item, or a page's listing with the adapters' bounded scans, several times
 * over), so a user with any number of items is forgotten, and a runaway step still stops.
 */
const STEP_UPSTREAM_CALLS = BATCH * 10;

/** The overall status of a job from its parts'. */
export function statusOf(parts: readonly Pick<PartState, 'status'>[]): ForgetStatus {
  if (parts.some((p) => p.status === 'RUNNING')) return 'RUNNING';
  if (parts.every((p) => p.status === 'COMPLETED')) return 'COMPLETED';
  if (parts.every((p) => p.status === 'FAILED')) return 'FAILED';
  return 'PARTIAL';
}

const messageOf = (error: unknown) => (isAppError(error) ? error.message : 'Unexpected error.');

/** Counts of a job's items per family (found, deleted, failed), in one query for many jobs. */
export async function itemCounts(prisma: PrismaClient, jobIds: string[]): Promise<Map<string, { found: number; deleted: number; failed: number }>> {
  const counts = new Map<string, { found: number; deleted: number; failed: number }>();
  if (jobIds.length === 0) return counts;
  const groups = await prisma.forgetItem.groupBy({ by: ['jobId', 'family', 'outcome'], where: { jobId: { in: jobIds } }, _count: { _all: true } });
  for (const group of groups) {
    const key = `${group.jobId}\0${group.family}`;
    const entry = counts.get(key) ?? { found: 0, deleted: 0, failed: 0 };
    const n = group._count._all;
    entry.found += n;
    if (group.outcome === 'deleted' || group.outcome === 'gone') entry.deleted += n;
    if (group.outcome === 'failed') entry.failed += n;
    counts.set(key, entry);
  }
  return counts;
}

export function createForgetJobs(deps: Deps & ForgetJobOptions): ForgetJobs {
  const { prisma, router, logger, metrics, localDeletes, changes, gate, receipts } = deps;
  const leaseMs = deps.leaseMs;
  const pollMs = deps.pollMs ?? Math.max(250, Math.floor(leaseMs / 2));
  const answerWithinMs = deps.answerWithinMs ?? 2000;
  const instance = randomUUID();
  const running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  let closed = false;

  /** Takes the job's lease if nobody holds it (or it has run out); true when this instance now runs it. */
  async function claim(jobId: string): Promise<boolean> {
    const now = new Date();
    const { count } = await prisma.forgetJob.updateMany({
      where: { id: jobId, status: 'RUNNING', OR: [{ leaseUntil: null }, { leaseUntil: { lt: now } }, { leaseOwner: instance }] },
      data: { leaseOwner: instance, leaseUntil: new Date(now.getTime() + leaseMs) },
    });
    return count === 1;
  }

  /** Runs the job here if it can be claimed; the promise settles when this instance stops running it. */
  function kick(jobId: string): Promise<void> {
    const current = running.get(jobId);
    if (current) return current.done;
    const abort = new AbortController();
    const done = (async () => {
      if (closed || !(await claim(jobId))) return;
      await runJob(jobId, abort.signal);
    })()
      .catch((error: unknown) => {
        if (!abort.signal.aborted) logger.error({ err: error, job: jobId }, 'forget job stopped; another attempt follows when its lease runs out');
      })
      .finally(() => running.delete(jobId));
    running.set(jobId, { done, abort });
    return done;
  }

  async function runJob(jobId: string, signal: AbortSignal): Promise<void> {
    const job = await prisma.forgetJob.findUniqueOrThrow({ where: { id: jobId } });
    const parts = job.parts as unknown as PartState[];
    const heartbeat = setInterval(() => {
      prisma.forgetJob
        .updateMany({ where: { id: jobId, leaseOwner: instance }, data: { leaseUntil: new Date(Date.now() + leaseMs) } })
        .then(({ count }) => {
          // Another instance took the job over (this one was presumed dead): stop at once.
          if (count === 0) abortJob(jobId);
        })
        .catch((error: unknown) => logger.warn({ err: error, job: jobId }, 'could not renew a forget job lease'));
    }, Math.max(100, Math.floor(leaseMs / 3)));
    heartbeat.unref();

    // Parts run side by side (they are different backends); their state is saved one write at a time.
    let saving = Promise.resolve();
    const save = () => {
      saving = saving.then(async () => {
        await prisma.forgetJob.updateMany({ where: { id: jobId, leaseOwner: instance }, data: { parts: parts as unknown as Prisma.InputJsonValue } });
      });
      return saving;
    };
    const endUserId = job.actor.startsWith('user:') ? job.actor.slice('user:'.length) : null;
    const journal: DeleteJournal = {
      prisma,
      localDeletes,
      logger,
      metrics,
      changes,
      tenantId: job.tenantId,
      actor: job.actor,
      endUserId,
      requestId: job.requestId,
      clientRequestId: null,
    };
    try {
      await Promise.all(parts.map((part) => runPart({ jobId, tenantId: job.tenantId, userId: job.userId, dryRun: job.dryRun, part, journal, signal, save })));
      signal.throwIfAborted();
      await save();
      await finish(jobId, parts);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Signs and stores the final receipt, frees the user for another forget, announces it. */
  async function finish(jobId: string, parts: PartState[]): Promise<void> {
    const job = await prisma.forgetJob.findUniqueOrThrow({ where: { id: jobId } });
    const counts = await itemCounts(prisma, [jobId]);
    const status = statusOf(parts);
    const finishedAt = new Date();
    const { signedPayload, signature } = await receipts.sign({
      receiptId: job.id,
      tenant: job.tenantId,
      userId: job.userId,
      actor: job.actor,
      dryRun: job.dryRun,
      status,
      requestedAt: job.requestedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      parts: parts.map((part) => {
        const c = counts.get(`${jobId}\0${part.family}`) ?? { found: 0, deleted: 0, failed: 0 };
        return {
          family: FAMILY_NAME[part.family],
          backend: part.backend.toUpperCase(),
          status: part.status,
          ...c,
          attempts: part.attempts,
          verifiedAbsent: part.verifiedAbsent,
        };
      }),
    });
    const { count } = await prisma.forgetJob.updateMany({
      where: { id: jobId, leaseOwner: instance, status: 'RUNNING' },
      data: { status, finishedAt, signedPayload, signature, activeKey: null, leaseOwner: null, leaseUntil: null, parts: parts as unknown as Prisma.InputJsonValue },
    });
    // A dry run forgets nothing: its receipt is the only trace.
    if (count === 0 || job.dryRun) return;
    changes.publish({
      tenantId: job.tenantId,
      kind: 'FORGOTTEN',
      family: null,
      id: job.id,
      userId: job.userId,
      backend: null,
      at: finishedAt.toISOString(),
      requestId: job.requestId,
    });
  }

  interface PartRun {
    jobId: string;
    tenantId: string;
    userId: string;
    dryRun: boolean;
    part: PartState;
    journal: DeleteJournal;
    signal: AbortSignal;
    save: () => Promise<void>;
  }

  /**
   * Fresh stores for one step: nothing a previous listing cached is reused, the step has its own
   * budget, and every call goes through the instance's gate and is counted.
   */
  const stepStores = (run: PartRun) =>
    router.storesFor(run.tenantId, new UpstreamBudget(STEP_UPSTREAM_CALLS), {
      gate: countingGate(gate, (n) => {
        run.part.attempts += n;
      }),
    });

  async function runPart(run: PartRun): Promise<void> {
    const { part, userId, signal } = run;
    const settle = async (status: ForgetStatus, fields: Partial<PartState> = {}) => {
      Object.assign(part, fields, { status, phase: 'done' });
      await run.save();
    };
    if (part.phase === 'done') return;
    // User events belong to UUID v4/v5 users only (the contract's rule for the family).
    if (part.family === 'userEvents' && !UUID_V4_V5.test(userId)) return settle('COMPLETED', { verifiedAbsent: true });

    try {
      for (;;) {
        signal.throwIfAborted();
        if (part.phase === 'inventory') {
          await inventory(run);
          part.phase = run.dryRun ? 'done' : 'delete';
          if (run.dryRun) return await settle('COMPLETED');
          await run.save();
        } else if (part.phase === 'delete') {
          await deletePending(run);
          part.phase = 'verify';
          await run.save();
        } else if (part.phase === 'verify') {
          const left = await verify(run);
          if (left > 0 && part.rounds < MAX_ROUNDS) {
            part.rounds += 1;
            part.phase = 'delete';
            await run.save();
            continue;
          }
          const counts = (await itemCounts(prisma, [run.jobId])).get(`${run.jobId}\0${part.family}`) ?? { found: 0, deleted: 0, failed: 0 };
          const status: ForgetStatus = counts.failed > 0 ? (counts.deleted > 0 ? 'PARTIAL' : 'FAILED') : part.verifiedAbsent ? 'COMPLETED' : 'PARTIAL';
          return await settle(status);
        } else {
          return;
        }
      }
    } catch (error) {
      if (signal.aborted) throw error;
      // Listing failed (or the store cannot be built): nothing more can be done for this part now.
      const counts = (await itemCounts(prisma, [run.jobId])).get(`${run.jobId}\0${part.family}`);
      logger.warn({ job: run.jobId, family: part.family, err: error }, 'forget part failed');
      await settle(counts && counts.deleted > 0 ? 'PARTIAL' : 'FAILED', { error: part.error ?? messageOf(error), verifiedAbsent: false });
    }
  }

  /** Lists the user's items of the part's family page by page and records each once. */
  async function inventory(run: PartRun): Promise<void> {
    let after: string | null = null;
    for (;;) {
      run.signal.throwIfAborted();
      const page = await listPage(await stepStores(run), run.part.family, run.userId, after, { signal: run.signal });
      await recordItems(run, page);
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return;
      after = page.pageInfo.endCursor;
    }
  }

  /** Records items not yet known to the job; returns how many were new. */
  async function recordItems(run: PartRun, page: Connection<{ id: string; subTenantId?: string | null }>): Promise<number> {
    const ids = page.edges.map((edge) => edge.node.id);
    if (ids.length === 0) return 0;
    const known = new Set(
      (await prisma.forgetItem.findMany({ where: { jobId: run.jobId, family: run.part.family, itemId: { in: ids } }, select: { itemId: true } })).map((i) => i.itemId),
    );
    const fresh = page.edges.filter((edge) => !known.has(edge.node.id));
    if (fresh.length > 0) {
      await prisma.forgetItem.createMany({
        data: fresh.map(({ node }) => ({ jobId: run.jobId, family: run.part.family, itemId: node.id, subTenantId: node.subTenantId ?? null })),
      });
    }
    return fresh.length;
  }

  /**
   * Deletes the items still to do, a batch at a time, each audited as `forgetUser` like a single
   * delete (src/audit.ts): locally one statement per batch, committed with its records and the
   * items' outcomes; on a provider pending-first, one call per item through the gate.
   */
  async function deletePending(run: PartRun): Promise<void> {
    const { part, userId, jobId } = run;
    for (;;) {
      run.signal.throwIfAborted();
      const items = await prisma.forgetItem.findMany({ where: { jobId, family: part.family, outcome: null }, take: BATCH, orderBy: { itemId: 'asc' } });
      if (items.length === 0) return;
      const stores = await stepStores(run);
      const backend = stores[part.family].backend;
      if (backend === 'local') part.attempts += 1;
      const batch: BatchItem[] = items.map((item) => ({
        attempt: { operation: 'forgetUser', family: part.family, backend, targetId: item.itemId, userId },
        call: forgetCall(part.family, backend, userId, item),
      }));
      const outcome = await auditedBatch(run.journal, stores, batch, {
        signal: run.signal,
        // Locally the items' outcomes commit with the deletes themselves.
        progress: backend === 'local' ? { jobId, family: part.family } : undefined,
      });
      // A batch cut short by a stop stays to do: the next run sends its deletes again.
      run.signal.throwIfAborted();
      if (backend === 'local') continue;
      const byOutcome = new Map<string, string[]>();
      items.forEach((item, index) => {
        const error = outcome[index];
        // An item that is already gone when deleted (deleted by a run that stopped before it
        // could record it, or by someone else) is absent all the same.
        const result = error === null ? 'deleted' : isAppError(error) && error.code === 'NOT_FOUND' ? 'gone' : 'failed';
        if (result === 'failed') part.error ??= messageOf(error);
        byOutcome.set(result, [...(byOutcome.get(result) ?? []), item.itemId]);
      });
      for (const [result, ids] of byOutcome) {
        await prisma.forgetItem.updateMany({ where: { jobId, family: part.family, itemId: { in: ids } }, data: { outcome: result } });
      }
      await run.save();
    }
  }

  /** Lists the user's items once more: none left proves the part; new ones go to the inventory. */
  async function verify(run: PartRun): Promise<number> {
    const page = await listPage(await stepStores(run), run.part.family, run.userId, null, { signal: run.signal });
    run.part.verifiedAbsent = page.edges.length === 0;
    return recordItems(run, page);
  }

  function abortJob(jobId: string) {
    running.get(jobId)?.abort.abort(new Error('lease lost'));
  }

  async function poll(): Promise<void> {
    const orphans = await prisma.forgetJob.findMany({
      where: { status: 'RUNNING', OR: [{ leaseUntil: null }, { leaseUntil: { lt: new Date() } }] },
      select: { id: true },
      take: 10,
    });
    for (const { id } of orphans) void kick(id);
  }

  const timer = setInterval(() => {
    poll().catch((error: unknown) => logger.warn({ err: error }, 'could not look for forget jobs to resume'));
  }, pollMs);
  timer.unref();
  // Jobs that a previous run of this or a dead instance left are picked up at once.
  setImmediate(() => {
    if (!closed) poll().catch((error: unknown) => logger.warn({ err: error }, 'could not look for forget jobs to resume'));
  });

  return {
    async request(input) {
      // JSON, not a separator: PostgreSQL text cannot hold NUL, and ids may hold anything else.
      const activeKey = JSON.stringify([input.tenantId, input.userId, input.dryRun]);
      let id: string | undefined = (await prisma.forgetJob.findUnique({ where: { activeKey }, select: { id: true } }))?.id;
      if (!id) {
        const routing = await router.routingFor(input.tenantId);
        const parts: PartState[] = FAMILIES.map((family) => ({
          family,
          backend: routing[family],
          status: 'RUNNING',
          phase: 'inventory',
          rounds: 0,
          attempts: 0,
          verifiedAbsent: false,
          error: null,
        }));
        try {
          id = (
            await prisma.forgetJob.create({
              data: { id: randomUUID(), ...input, status: 'RUNNING', activeKey, parts: parts as unknown as Prisma.InputJsonValue },
              select: { id: true },
            })
          ).id;
        } catch (error) {
          // Another request for the same user got there first: answer with its job.
          id = (await prisma.forgetJob.findUnique({ where: { activeKey }, select: { id: true } }))?.id;
          if (!id) throw error;
        }
      }
      await Promise.race([kick(id), sleep(answerWithinMs, undefined, { ref: false })]);
      return id;
    },

    async close() {
      closed = true;
      clearInterval(timer);
      const stopping = [...running.values()];
      for (const { abort } of stopping) abort.abort(new Error('shutting down'));
      await Promise.all(stopping.map((r) => r.done));
      // Hand the leases back so another instance (or the next start) carries on at once.
      await prisma.forgetJob.updateMany({ where: { leaseOwner: instance, status: 'RUNNING' }, data: { leaseOwner: null, leaseUntil: null } }).catch(() => undefined);
    },
  };
}

export const FAMILY_NAME: Record<Family, string> = { userEvents: 'USER_EVENTS', userMemories: 'USER_MEMORIES', memories: 'MEMORIES' };

/** One page of the user's items of a family, through the tenant's store and the gateway's user filter. */
function listPage(stores: Stores, family: Family, userId: string, after: string | null, call: CallOptions): Promise<Connection<{ id: string; subTenantId?: string | null }>> {
  const page = { first: BATCH, after };
  switch (family) {
    case 'userEvents':
      return stores.userEvents.list({ ...page, userId }, call);
    case 'userMemories':
      return stores.userMemories.list({ ...page, userId }, call);
    case 'memories':
      return stores.memories.list({ ...page, userId }, call);
  }
}

/**
 * How a forget deletes one item: locally limited to the user's rows (one statement per batch,
 * whatever sub-tenant each row is in); upstream by id, in the sub-tenant the item was listed in
 * (Cortex), naming the user where the provider checks owners (Mielto).
 */
function forgetCall(family: Family, backend: BackendName, userId: string, item: { itemId: string; subTenantId: string | null }): DeleteCall {
  switch (family) {
    case 'userEvents':
      return { family, userId, eventId: item.itemId };
    case 'userMemories':
      return backend === 'local'
        ? { family, userMemoryId: item.itemId, subTenantId: null, ownerUserId: userId }
        : { family, userMemoryId: item.itemId, subTenantId: item.subTenantId, ownerUserId: null };
    case 'memories':
      return { family, memoryId: item.itemId, userId, workspaceId: null };
  }
}
