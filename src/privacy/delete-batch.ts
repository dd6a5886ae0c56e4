import { auditedDelete, auditedLocalDeletes, type DeleteJournal, type DeleteOperation } from '../audit.js';
import { deleteManyReturning, type LocalDeleteFilter, type LocalTable } from '../backends/local/delete-many.js';
import type { BackendName, Stores } from '../backends/types.js';
import { AppError, isAppError, notFound } from '../errors.js';
import type { Family } from '../events/change-bus.js';
import type { Prisma } from '../generated/prisma/client.js';

/** One id of a batch, and the error the single delete would give before reaching a store. */
export interface BatchItem {
  /** The id as the caller gave it (results, audit). */
  id: string;
  /** The id as the store takes it, when checking normalised it (UUIDs are lower-cased). */
  storeId?: string;
  /** The user the item belongs to, when known (audit and change stream). */
  userId: string | null;
  refused?: unknown;
}

/** How one family's items are deleted: by one statement locally, one call per id upstream. */
export interface BatchTarget {
  family: Family;
  backend: BackendName;
  /** Local store: the columns every deleted row must match besides tenant and id. */
  localFilter: LocalDeleteFilter;
  /** A provider: deletes one item, throwing what the single delete would throw. */
  deleteOne(id: string): Promise<unknown>;
}

const TABLE: Record<Family, LocalTable> = { userEvents: 'UserEvent', userMemories: 'UserMemory', memories: 'Memory' };

const NOT_FOUND: Record<Family, (id: string) => AppError> = {
  userEvents: (id) => notFound(`User event ${id}`),
  userMemories: (id) => notFound(`User memory ${id}`),
  memories: (id) => notFound(`Memory ${id}`),
};

/** A target for a family of the tenant's stores; `scope` is what the single delete would pass. */
export function batchTarget(stores: Stores, family: Family, scope: BatchScope): BatchTarget {
  switch (family) {
    case 'userEvents': {
      const { userId } = scope as BatchScope<'userEvents'>;
      const store = stores.userEvents;
      return { family, backend: store.backend, localFilter: { userId }, deleteOne: (id) => store.delete(userId, id, scope.call) };
    }
    case 'userMemories': {
      const { subTenantId, ownerUserId } = scope as BatchScope<'userMemories'>;
      const store = stores.userMemories;
      return {
        family,
        backend: store.backend,
        localFilter: { subTenantId: subTenantId ?? undefined, userId: ownerUserId ?? undefined },
        deleteOne: (id) => store.delete(id, { subTenantId, ownerUserId }, scope.call),
      };
    }
    case 'memories': {
      const { userId, workspaceId } = scope as BatchScope<'memories'>;
      const store = stores.memories;
      return {
        family,
        backend: store.backend,
        localFilter: { userId: userId ?? undefined, workspaceId: workspaceId ?? undefined },
        deleteOne: (id) => store.delete(id, { userId, workspaceId }, scope.call),
      };
    }
  }
}

interface Scopes {
  userEvents: { userId: string };
  userMemories: { subTenantId: string | null; ownerUserId: string | null };
  memories: { userId: string | null; workspaceId: string | null };
}
export type BatchScope<F extends Family = Family> = Scopes[F] & { call?: { signal?: AbortSignal } };

const storeIdOf = (item: BatchItem) => item.storeId ?? item.id;

/** null for an item deleted, else what the single delete would have thrown. */
export type BatchOutcome = Map<string, unknown | null>;

/**
 * Deletes a batch of one family's items, each audited like a single delete (`operation` names
 * the caller). Locally: one DELETE statement for the whole batch, committed with its audit
 * records (and whatever `inTransaction` adds, e.g. a forget job's progress). On a provider:
 * one call per id, all at once; the gate of the stores bounds how many are in flight.
 */
export async function deleteBatch(
  journal: DeleteJournal,
  target: BatchTarget,
  operation: DeleteOperation,
  items: readonly BatchItem[],
  options: { inTransaction?: (tx: Prisma.TransactionClient, deleted: ReadonlySet<string>) => Promise<void> } = {},
): Promise<BatchOutcome> {
  const attemptOf = (item: BatchItem) => ({ operation, family: target.family, backend: target.backend, targetId: item.id, userId: item.userId });
  const outcome: BatchOutcome = new Map();

  if (target.backend === 'local') {
    const live = items.filter((item) => item.refused === undefined);
    const deleted = await auditedLocalDeletes(
      journal,
      items.map((item) => ({ ...attemptOf(item), refused: item.refused })),
      async (tx) => {
        const gone = await deleteManyReturning(tx, TABLE[target.family], journal.tenantId, live.map(storeIdOf), target.localFilter);
        await options.inTransaction?.(tx, gone);
        return new Set(live.filter((item) => gone.has(storeIdOf(item))).map((item) => item.id));
      },
    );
    for (const item of items) {
      outcome.set(item.id, item.refused !== undefined ? item.refused : deleted.has(item.id) ? null : NOT_FOUND[target.family](item.id));
    }
    return outcome;
  }

  await Promise.all(
    items.map(async (item) => {
      try {
        await auditedDelete(journal, attemptOf(item), () =>
          item.refused !== undefined ? Promise.reject(item.refused) : target.deleteOne(storeIdOf(item)),
        );
        outcome.set(item.id, null);
      } catch (error) {
        outcome.set(item.id, error);
      }
    }),
  );
  return outcome;
}

/** The code and message a client sees for an item's error (anything unexpected is masked). */
export function clientError(error: unknown): { code: string; message: string } {
  if (isAppError(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error.' };
}
