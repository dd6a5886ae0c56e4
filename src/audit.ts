import { randomUUID } from 'node:crypto';
import { actorOf } from './auth/principal.js';
import type { BackendName } from './backends/types.js';
import type { Context } from './context.js';
import { MEMORY_DELETED, notFoundFor, sendDelete, type AuditRow, type DeleteCall } from './deletes.js';
import { isAppError } from './errors.js';
import type { DeleteFamily } from './metrics.js';

export interface DeleteAttempt {
  operation: 'deleteUserEvent' | 'deleteUserMemory' | 'deleteMemory';
  backend: BackendName;
  targetId: string;
  userId?: string | null;
}

const FAMILY: Record<DeleteAttempt['operation'], DeleteFamily> = {
  deleteUserEvent: 'user_events',
  deleteUserMemory: 'user_memories',
  deleteMemory: 'memories',
};

/** `deleted`, or the lower-cased error code the caller saw (`not_found`, `upstream_error`, …). */
function outcomeOf(error: unknown): string {
  return isAppError(error) ? error.code.toLowerCase() : 'internal_server_error';
}

/** The audit record of an attempt: who, what and when — never memory content. */
function auditRow(ctx: Context, attempt: DeleteAttempt, outcome: string): AuditRow {
  return {
    id: randomUUID(),
    tenantId: ctx.principal.tenantId,
    actor: actorOf(ctx.principal),
    operation: attempt.operation,
    backend: attempt.backend,
    // Ids are recorded as the caller sent them, cut short so a junk argument cannot bloat the trail.
    targetId: attempt.targetId.slice(0, 256),
    // The user the request named, else the end user acting (who can only act on themselves).
    userId: (attempt.userId ?? (ctx.principal.kind === 'end-user' ? ctx.principal.userId : null))?.slice(0, 256) ?? null,
    outcome,
    requestId: ctx.requestId,
    clientRequestId: ctx.clientRequestId,
  };
}

/** Writes a record of an attempt that changed nothing; a failure is logged, the caller's answer stands. */
async function recordRefusal(ctx: Context, attempt: DeleteAttempt, error: unknown): Promise<void> {
  const outcome = outcomeOf(error);
  try {
    await ctx.prisma.deletionAudit.create({ data: auditRow(ctx, attempt, outcome) });
  } catch (failure) {
    ctx.logger.error({ err: failure, requestId: ctx.requestId, operation: attempt.operation, outcome }, 'failed to write deletion audit record');
  }
}

/**
 * Runs a delete and records the attempt with its outcome, whatever it is, so that a crash at any
 * moment leaves the audit telling the truth (contract § Guarantees):
 * - input refused before any store is asked: a record of the refusal;
 * - local store: the row and a `deleted` record commit in one transaction;
 * - provider: a `pending` record (with what to send again) is written before the call — no record,
 *   no call — and settled after it. A record left pending by a crash or by a client that went
 *   away is settled later by sending the delete again (src/deletes.ts).
 */
export async function audited<C extends DeleteCall>(ctx: Context, attempt: DeleteAttempt, prepare: () => C): Promise<{ call: C; message: string }> {
  let outcome = 'deleted';
  try {
    return await auditedDelete(ctx, attempt, prepare);
  } catch (error) {
    outcome = outcomeOf(error);
    throw error;
  } finally {
    ctx.metrics.deleteFinished(FAMILY[attempt.operation], attempt.backend, outcome);
  }
}

async function auditedDelete<C extends DeleteCall>(ctx: Context, attempt: DeleteAttempt, prepare: () => C): Promise<{ call: C; message: string }> {
  let call: C;
  try {
    call = prepare();
  } catch (error) {
    await recordRefusal(ctx, attempt, error);
    throw error;
  }

  if (attempt.backend === 'local') {
    let deleted: boolean;
    try {
      deleted = await ctx.localDeletes.deleteWithRecord(ctx.principal.tenantId, call, auditRow(ctx, attempt, 'deleted'));
    } catch (error) {
      // The transaction rolled back: nothing was deleted.
      await recordRefusal(ctx, attempt, error);
      throw error;
    }
    if (!deleted) {
      const error = notFoundFor(call);
      await recordRefusal(ctx, attempt, error);
      throw error;
    }
    return { call, message: MEMORY_DELETED };
  }

  const record = auditRow(ctx, attempt, 'pending');
  await ctx.prisma.deletionAudit.create({ data: { ...record, scope: call } });
  const settle = async (outcome: string) => {
    try {
      await ctx.prisma.deletionAudit.updateMany({ where: { id: record.id, outcome: 'pending' }, data: { outcome } });
    } catch (error) {
      // Left pending: recovery sends the delete again and settles it.
      ctx.logger.error({ err: error, requestId: ctx.requestId, operation: attempt.operation, outcome }, 'failed to settle deletion audit record');
    }
  };
  try {
    const { message } = await sendDelete(ctx.stores, call, { signal: ctx.signal });
    await settle('deleted');
    return { call, message: message ?? MEMORY_DELETED };
  } catch (error) {
    // A caller that went away may have left the delete applied or not: recovery finds out.
    if (!ctx.signal.aborted) await settle(outcomeOf(error));
    throw error;
  }
}
