import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { actorOf } from './auth/principal.js';
import type { BackendName } from './backends/types.js';
import type { Context } from './context.js';
import { isAppError } from './errors.js';
import type { ChangeBus, Family } from './events/change-bus.js';
import type { Prisma, PrismaClient } from './generated/prisma/client.js';

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

/**
 * Who deletes, and where that is written down and announced: a request's (`journalOf`) or a
 * forget job's, which runs after its request has ended.
 */
export interface DeleteJournal {
  prisma: PrismaClient;
  logger: Logger;
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
    logger: ctx.logger,
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

/** The audit record of one attempt: who, what and when — never memory content. */
function deletionRecord(journal: DeleteJournal, attempt: DeleteAttempt, outcome: string): Prisma.DeletionAuditCreateManyInput {
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

/** Tells `memoryChanges` subscribers that an item is gone. */
function announceDeleted(journal: DeleteJournal, attempt: DeleteAttempt): void {
  journal.changes.publish({
    tenantId: journal.tenantId,
    kind: 'DELETED',
    family: attempt.family ?? FAMILY_OF[attempt.operation as Exclude<DeleteOperation, 'forgetUser'>],
    id: attempt.targetId,
    userId: attempt.userId ?? journal.endUserId,
    backend: attempt.backend,
    at: new Date().toISOString(),
    requestId: journal.requestId,
  });
}

/**
 * The one way a delete of one item is made: runs it, records the attempt with its outcome
 * (whatever it is) and announces a success on the change stream. Single deletes, each id of a
 * bulk delete on a provider, and each item a forget job deletes on a provider go through here.
 * If the record cannot be written after a delete that succeeded, the delete is still reported
 * as done (it is) and the failure is logged loudly.
 */
export async function auditedDelete<T>(journal: DeleteJournal, attempt: DeleteAttempt, run: () => Promise<T>): Promise<T> {
  let outcome = 'deleted';
  try {
    const result = await run();
    announceDeleted(journal, attempt);
    return result;
  } catch (error) {
    outcome = outcomeOf(error);
    throw error;
  } finally {
    try {
      await journal.prisma.deletionAudit.create({ data: deletionRecord(journal, attempt, outcome) });
    } catch (error) {
      journal.logger.error({ err: error, requestId: journal.requestId, operation: attempt.operation, outcome }, 'failed to write deletion audit record');
    }
  }
}

/**
 * Deletes of many items in the local store: `run` deletes inside one transaction and returns the
 * ids it deleted; one record per attempt (`deleted`, else `not_found`, or the code an attempt
 * already has) commits in the same transaction, and the deletions are announced once it has.
 */
export async function auditedLocalDeletes(
  journal: DeleteJournal,
  attempts: (DeleteAttempt & { refused?: unknown })[],
  run: (tx: Prisma.TransactionClient) => Promise<ReadonlySet<string>>,
): Promise<ReadonlySet<string>> {
  const deleted = await journal.prisma.$transaction(async (tx) => {
    const gone = await run(tx);
    const records = attempts.map((attempt) =>
      deletionRecord(journal, attempt, attempt.refused !== undefined ? outcomeOf(attempt.refused) : gone.has(attempt.targetId) ? 'deleted' : 'not_found'),
    );
    if (records.length > 0) await tx.deletionAudit.createMany({ data: records });
    return gone;
  });
  for (const attempt of attempts) if (attempt.refused === undefined && deleted.has(attempt.targetId)) announceDeleted(journal, attempt);
  return deleted;
}

/** A request's delete of one item: `auditedDelete` for the request's principal. */
export function audited<T>(ctx: Context, attempt: DeleteAttempt, run: () => Promise<T>): Promise<T> {
  return auditedDelete(journalOf(ctx), attempt, run);
}
