import { randomUUID } from 'node:crypto';
import { actorOf } from './auth/principal.js';
import type { BackendName } from './backends/types.js';
import type { Context } from './context.js';
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

/**
 * Runs a delete and records the attempt with its outcome, whatever it is. The record holds who,
 * what and when — never memory content. If the record cannot be written after a delete that
 * succeeded, the delete is still reported as done (it is) and the failure is logged loudly.
 */
export async function audited<T>(ctx: Context, attempt: DeleteAttempt, run: () => Promise<T>): Promise<T> {
  let outcome = 'deleted';
  try {
    return await run();
  } catch (error) {
    outcome = outcomeOf(error);
    throw error;
  } finally {
    ctx.metrics.deleteFinished(FAMILY[attempt.operation], attempt.backend, outcome);
    try {
      await ctx.prisma.deletionAudit.create({
        data: {
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
        },
      });
    } catch (error) {
      ctx.logger.error({ err: error, requestId: ctx.requestId, operation: attempt.operation, outcome }, 'failed to write deletion audit record');
    }
  }
}
