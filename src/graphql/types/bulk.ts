import { auditedLocalDeletes, journalOf, type DeleteOperation } from '../../audit.js';
import type { BackendName, Stores } from '../../backends/types.js';
import type { Context } from '../../context.js';
import { badInput } from '../../errors.js';
import type { Family } from '../../events/change-bus.js';
import { batchTarget, clientError, deleteBatch, type BatchItem, type BatchScope } from '../../privacy/delete-batch.js';
import { actingSubTenant, actingUser } from '../authz.js';
import { builder } from '../builder.js';
import { optionalId, requiredId, uuidV4OrV5 } from '../validate.js';
import { backendField } from './common.js';

/** Ids one bulk delete takes (distinct ids; repeats count once). */
export const BULK_MAX = 100;

interface BulkResult {
  id: string;
  deleted: boolean;
  code: string | null;
  message: string | null;
}

interface BulkPayload {
  results: BulkResult[];
  deletedCount: number;
  failedCount: number;
  backend: BackendName;
}

const BulkDeleteResult = builder.objectRef<BulkResult>('BulkDeleteResult').implement({
  description: 'What became of one id of a bulk delete.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id, as given.' }),
    deleted: t.exposeBoolean('deleted', { description: 'True: the item is permanently gone.' }),
    code: t.exposeString('code', {
      nullable: true,
      description: 'null when deleted; otherwise the error code the single delete of this id would have given (e.g. NOT_FOUND).',
    }),
    message: t.exposeString('message', { nullable: true, description: 'null when deleted; otherwise what went wrong.' }),
  }),
});

const BulkDeletePayload = builder.objectRef<BulkPayload>('BulkDeletePayload').implement({
  description: 'Result of a bulk delete: one result per distinct id, in the order the ids were given.',
  fields: (t) => ({
    results: t.field({ type: [BulkDeleteResult], resolve: (p) => p.results, description: 'One per distinct id, in input order.' }),
    deletedCount: t.exposeInt('deletedCount', { description: 'How many ids were deleted.' }),
    failedCount: t.exposeInt('failedCount', { description: 'How many ids were not deleted (see their codes).' }),
    backend: t.field({ ...backendField, resolve: (p) => p.backend }),
  }),
});

/** The distinct ids in input order; 1..BULK_MAX of them, else BAD_USER_INPUT naming the argument. */
function distinctIds(field: string, ids: readonly (string | number)[]): string[] {
  const distinct = [...new Set(ids.map(String))];
  if (distinct.length < 1 || distinct.length > BULK_MAX) {
    throw badInput(field, `${field} must hold 1 to ${BULK_MAX} distinct ids (got ${distinct.length})`);
  }
  return distinct;
}

/**
 * Runs a bulk delete: each id checked as the single delete checks it (a bad one gets that code
 * in its result), then deleted through the tenant's stores with the instance's upstream gate,
 * each audited like a single delete. A refusal of the whole request (a bad user id, an end user
 * naming someone else) is audited for every id, as the single deletes would have been.
 */
async function bulkDelete<F extends Family>(
  ctx: Context,
  operation: DeleteOperation,
  family: F,
  ids: string[],
  prepare: () => { scope: BatchScope<F>; checkId: (id: string) => string; userId: string | null },
): Promise<BulkPayload> {
  const journal = journalOf(ctx);
  let stores: Stores;
  let prepared: ReturnType<typeof prepare>;
  try {
    stores = await ctx.privacy.storesFor(ctx.principal.tenantId);
    prepared = prepare();
  } catch (error) {
    const backend = (() => {
      try {
        return ctx.stores[family].backend;
      } catch {
        return 'local' as const;
      }
    })();
    await auditedLocalDeletes(
      journal,
      ids.map((id) => ({ operation, family, backend, targetId: id, refused: error })),
      async () => new Set(),
    ).catch((failure: unknown) => ctx.logger.error({ err: failure }, 'failed to write deletion audit records'));
    throw error;
  }
  const { scope, checkId, userId } = prepared;
  const target = batchTarget(stores, family, { ...scope, call: { signal: ctx.signal } });
  const items: BatchItem[] = ids.map((id) => {
    try {
      return { id, storeId: checkId(id), userId };
    } catch (error) {
      return { id, userId, refused: error };
    }
  });
  const outcome = await deleteBatch(journal, target, operation, items);
  const results = ids.map((id) => {
    const error = outcome.get(id);
    if (error === null || error === undefined) return { id, deleted: true, code: null, message: null };
    return { id, deleted: false, ...clientError(error) };
  });
  const deletedCount = results.filter((r) => r.deleted).length;
  return { results, deletedCount, failedCount: results.length - deletedCount, backend: target.backend };
}

builder.mutationField('deleteUserEvents', (t) =>
  t.field({
    type: BulkDeletePayload,
    description:
      'Permanently deletes up to 100 events of a user. Each id gets the result its single `deleteUserEvent` would have given; repeated ids count once. Upstream calls run at most 8 at a time per provider credential.',
    args: {
      userId: t.arg.id({ required: true, description: 'The user (UUID v4 or v5).' }),
      eventIds: t.arg.idList({ required: true, description: '1 to 100 event ids (UUID v4 or v5).' }),
    },
    resolve: (_root, args, ctx) =>
      bulkDelete(ctx, 'deleteUserEvents', 'userEvents', distinctIds('eventIds', args.eventIds), () => {
        const userId = actingUser(ctx, uuidV4OrV5('userId', String(args.userId)))!;
        return { scope: { userId }, checkId: (id) => uuidV4OrV5('eventId', id), userId };
      }),
  }),
);

builder.mutationField('deleteUserMemories', (t) =>
  t.field({
    type: BulkDeletePayload,
    description:
      'Permanently deletes up to 100 user memories. Each id gets the result its single `deleteUserMemory` would have given; repeated ids count once. Upstream calls run at most 8 at a time per provider credential.',
    args: {
      userMemoryIds: t.arg.idList({ required: true, description: '1 to 100 user memory ids.' }),
      subTenantId: t.arg.string({ description: 'Cortex sub-tenant they live in.' }),
    },
    resolve: (_root, args, ctx) =>
      bulkDelete(ctx, 'deleteUserMemories', 'userMemories', distinctIds('userMemoryIds', args.userMemoryIds), () => {
        const ownerUserId = ctx.principal.kind === 'end-user' ? ctx.principal.userId : null;
        const subTenantId = actingSubTenant(ctx, optionalId('subTenantId', args.subTenantId));
        return { scope: { subTenantId, ownerUserId }, checkId: (id) => requiredId('userMemoryId', id), userId: ownerUserId };
      }),
  }),
);

builder.mutationField('deleteMemories', (t) =>
  t.field({
    type: BulkDeletePayload,
    description:
      'Permanently deletes up to 100 memories. Each id gets the result its single `deleteMemory` would have given; repeated ids count once. Upstream calls run at most 8 at a time per provider credential.',
    args: {
      memoryIds: t.arg.idList({ required: true, description: '1 to 100 memory ids.' }),
      userId: t.arg.string({ description: 'Their owner (Mielto lets only the owner delete).' }),
      workspaceId: t.arg.string({ description: 'Mielto workspace they live in.' }),
    },
    resolve: (_root, args, ctx) =>
      bulkDelete(ctx, 'deleteMemories', 'memories', distinctIds('memoryIds', args.memoryIds), () => {
        const userId = actingUser(ctx, optionalId('userId', args.userId));
        const workspaceId = optionalId('workspaceId', args.workspaceId);
        return { scope: { userId, workspaceId }, checkId: (id) => requiredId('memoryId', id), userId };
      }),
  }),
);
