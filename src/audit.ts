import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { actorOf } from './auth/principal.js';
import type { BackendName, Stores } from './backends/types.js';
import type { Context } from './context.js';
import {
  MEMORY_DELETED,
  notFoundFor,
  sendDelete,
  type AuditRow,
  type DeleteCall,
  type ForgetProgress,
  type LocalDeleteTransactions,
} from './deletes.js';
import { isAppError } from './errors.js';
import type { ChangeBus, Family } from './events/change-bus.js';
import type { PrismaClient } from './generated/prisma/client.js';
import type { DeleteFamily, Metrics } from './metrics.js';

export type DeleteOperation =
  | 'deleteUserEvent'
  | 'deleteUserMemory'
  | 'deleteMemory'
  | 'deleteUserEvents'
  | 'deleteUserMemories'
  | 'deleteMemories'
  | 'forgetUser';

export interface DeleteAttempt {
  operation: DeleteOperation;
  backend: BackendName;
  targetId: string;
  userId?: string | null;
  /** The family of the item; implied by every operation but forgetUser. */
  family?: Family;
}

const FAMILY_OF: Record<Exclude<DeleteOperation, 'forgetUser'>, Family> = {
  deleteUserEvent: 'userEvents',
  deleteUserEvents: 'userEvents',
  deleteUserMemory: 'userMemories',
  deleteUserMemories: 'userMemories',
  deleteMemory: 'memories',
  deleteMemories: 'memories',
};

/** Metric label of each family (src/metrics.ts). */
const METRIC_FAMILY: Record<Family, DeleteFamily> = { userEvents: 'user_events', userMemories: 'user_memories', memories: 'memories' };

const familyOf = (attempt: DeleteAttempt): Family => attempt.family ?? FAMILY_OF[attempt.operation as Exclude<DeleteOperation, 'forgetUser'>];

/**
 * Who deletes, and where that is written down, counted and announced: a request's
 * (`journalOf`), or a forget job's, which runs after its request has ended.
 */
export interface DeleteJournal {
  prisma: PrismaClient;
  localDeletes: LocalDeleteTransactions;
  logger: Logger;
  metrics: Metrics;
  changes: ChangeBus;
  tenantId: string;
  /** `key:<key id>` or `user:<user id>`. */
  actor: string;
  /** The end user acting, if any: recorded as the user when the attempt names none. */
  endUserId: string | null;
  requestId: string;
  clientRequestId: string | null;
}

export function journalOf(ctx: Context): DeleteJournal {
  return {
    prisma: ctx.prisma,
    localDeletes: ctx.localDeletes,
    logger: ctx.logger,
    metrics: ctx.metrics,
    changes: ctx.privacy.changes,
    tenantId: ctx.principal.tenantId,
    actor: actorOf(ctx.principal),
    endUserId: ctx.principal.kind === 'end-user' ? ctx.principal.userId : null,
    requestId: ctx.requestId,
    clientRequestId: ctx.clientRequestId,
  };
}

/** `deleted`, or the lower-cased error code the caller saw (`not_found`, `upstream_error`, …). */
export function outcomeOf(error: unknown): string {
  return isAppError(error) ? error.code.toLowerCase() : 'internal_server_error';
}

/** The audit record of an attempt: who, what and when — never memory content. */
function auditRow(journal: DeleteJournal, attempt: DeleteAttempt, outcome: string): AuditRow {
  return {
    id: randomUUID(),
    tenantId: journal.tenantId,
    actor: journal.actor,
    operation: attempt.operation,
    backend: attempt.backend,
    // Ids are recorded as the caller sent them, cut short so a junk argument cannot bloat the trail.
    targetId: attempt.targetId.slice(0, 256),
    // The user the request named, else the end user acting (who can only act on themselves).
    userId: (attempt.userId ?? journal.endUserId)?.slice(0, 256) ?? null,
    outcome,
    requestId: journal.requestId,
    clientRequestId: journal.clientRequestId,
  };
}

/** Writes records of attempts that changed nothing; a failure is logged, the callers' answers stand. */
async function recordRefusals(journal: DeleteJournal, refusals: readonly { attempt: DeleteAttempt; error: unknown }[]): Promise<void> {
  if (refusals.length === 0) return;
  try {
    await journal.prisma.deletionAudit.createMany({ data: refusals.map(({ attempt, error }) => auditRow(journal, attempt, outcomeOf(error))) });
  } catch (failure) {
    const { attempt, error } = refusals[0]!;
    journal.logger.error(
      { err: failure, requestId: journal.requestId, operation: attempt.operation, outcome: outcomeOf(error), records: refusals.length },
      'failed to write deletion audit record',
    );
  }
}

/** Counts an attempt's outcome and, for a delete, tells `memoryChanges` subscribers the item is gone. */
function finished(journal: DeleteJournal, attempt: DeleteAttempt, outcome: string): void {
  journal.metrics.deleteFinished(METRIC_FAMILY[familyOf(attempt)], attempt.backend, outcome);
  if (outcome !== 'deleted') return;
  journal.changes.publish({
    tenantId: journal.tenantId,
    kind: 'DELETED',
    family: familyOf(attempt),
    id: attempt.targetId,
    userId: attempt.userId ?? journal.endUserId,
    backend: attempt.backend,
    at: new Date().toISOString(),
    requestId: journal.requestId,
  });
}

/**
 * A provider delete of one item: a `pending` record (with what to send again) is written before
 * the call — no record, no call — and settled after it. A record left pending by a crash or by a
 * caller that went away is settled later by sending the delete again (src/deletes.ts).
 */
async function providerDelete(journal: DeleteJournal, stores: Stores, attempt: DeleteAttempt, call: DeleteCall, signal?: AbortSignal): Promise<{ message?: string }> {
  const record = auditRow(journal, attempt, 'pending');
  await journal.prisma.deletionAudit.create({ data: { ...record, scope: call } });
  const settle = async (outcome: string) => {
    try {
      await journal.prisma.deletionAudit.updateMany({ where: { id: record.id, outcome: 'pending' }, data: { outcome } });
    } catch (error) {
      // Left pending: recovery sends the delete again and settles it.
      journal.logger.error({ err: error, requestId: journal.requestId, operation: attempt.operation, outcome }, 'failed to settle deletion audit record');
    }
  };
  try {
    const answer = await sendDelete(stores, call, { signal });
    await settle('deleted');
    return answer;
  } catch (error) {
    // A caller that went away may have left the delete applied or not: recovery finds out.
    if (!signal?.aborted) await settle(outcomeOf(error));
    throw error;
  }
}

/**
 * Runs a delete and records the attempt with its outcome, whatever it is, so that a crash at any
 * moment leaves the audit telling the truth (contract § Guarantees):
 * - input refused before any store is asked: a record of the refusal;
 * - local store: the row and a `deleted` record commit in one transaction;
 * - provider: `pending` first, settled after the call (providerDelete).
 */
export async function audited<C extends DeleteCall>(ctx: Context, attempt: DeleteAttempt, prepare: () => C): Promise<{ call: C; message: string }> {
  const journal = journalOf(ctx);
  let outcome = 'deleted';
  try {
    let call: C;
    try {
      call = prepare();
    } catch (error) {
      await recordRefusals(journal, [{ attempt, error }]);
      throw error;
    }
    if (attempt.backend === 'local') {
      const [error] = await localBatch(journal, [{ attempt, call }]);
      if (error) throw error;
      return { call, message: MEMORY_DELETED };
    }
    const { message } = await providerDelete(journal, ctx.stores, attempt, call, ctx.signal);
    return { call, message: message ?? MEMORY_DELETED };
  } catch (error) {
    outcome = outcomeOf(error);
    throw error;
  } finally {
    finished(journal, attempt, outcome);
  }
}

/** One item of a batch: its attempt and its delete, or the error its single delete would refuse it with. */
export type BatchItem = { attempt: DeleteAttempt } & ({ call: DeleteCall; refused?: undefined } | { call?: undefined; refused: unknown });

/**
 * The local deletes of one batch: one statement (per set of conditions) for the whole batch,
 * committed with one record per item. Returns, per item, null when deleted or the error.
 */
async function localBatch(journal: DeleteJournal, items: readonly { attempt: DeleteAttempt; call: DeleteCall }[], progress?: ForgetProgress): Promise<(unknown | null)[]> {
  if (items.length === 0) return [];
  let deleted: boolean[];
  try {
    deleted = await journal.localDeletes.deleteBatchWithRecords(
      journal.tenantId,
      items.map(({ attempt, call }) => ({ call, record: auditRow(journal, attempt, 'deleted') })),
      progress,
    );
  } catch (error) {
    // The transaction rolled back: nothing was deleted.
    await recordRefusals(journal, items.map(({ attempt }) => ({ attempt, error })));
    return items.map(() => error);
  }
  return items.map(({ call }, index) => (deleted[index] ? null : notFoundFor(call)));
}

/**
 * Deletes a batch of one family's items on one backend, each audited like a single delete
 * (`attempt.operation` names the caller: a bulk delete or a forget). Locally: one statement for
 * the batch, committed with its records (and a forget job's `progress`). On a provider: one
 * pending-first delete per item, all started at once; the gate of `stores` bounds how many are
 * in flight. Returns, per item in order, null when deleted or what its single delete would have
 * thrown.
 */
export async function auditedBatch(
  journal: DeleteJournal,
  stores: Stores,
  items: readonly BatchItem[],
  options: { signal?: AbortSignal; progress?: ForgetProgress } = {},
): Promise<(unknown | null)[]> {
  const results: (unknown | null)[] = items.map((item) => item.refused ?? null);
  await recordRefusals(
    journal,
    items.filter((item) => item.refused !== undefined).map(({ attempt, refused }) => ({ attempt, error: refused })),
  );
  const live = items.flatMap((item, index) => (item.call ? [{ attempt: item.attempt, call: item.call, index }] : []));
  const local = live.filter((item) => item.attempt.backend === 'local');
  const outcomes = await localBatch(journal, local, options.progress);
  local.forEach((item, n) => (results[item.index] = outcomes[n]));
  await Promise.all(
    live
      .filter((item) => item.attempt.backend !== 'local')
      .map(async ({ attempt, call, index }) => {
        try {
          await providerDelete(journal, stores, attempt, call, options.signal);
        } catch (error) {
          results[index] = error;
        }
      }),
  );
  items.forEach((item, index) => finished(journal, item.attempt, results[index] === null ? 'deleted' : outcomeOf(results[index])));
  return results;
}
