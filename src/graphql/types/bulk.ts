import { auditedBatch, journalOf, type BatchItem, type DeleteOperation } from '../../audit.js';
import type { BackendName } from '../../backends/types.js';
import type { Context } from '../../context.js';
import type { DeleteCall } from '../../deletes.js';
import { badInput, isAppError } from '../../errors.js';
import type { Family } from '../../events/change-bus.js';
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

/** What a bulk delete asks of each id, as its single delete would: the delete, or the refusal. */
type Prepared = { userId: string | null; callFor: (id: string) => DeleteCall };

/** The code and message a client sees for an id's error (anything unexpected is masked). */
function clientError(error: unknown): { code: string; message: string } {
  if (isAppError(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error.' };
}

/**
 * Runs a bulk delete: each id checked as the single delete checks it (a bad one gets that code
 * in its result), then deleted through the tenant's stores behind the instance's upstream gate
 * and on the request's upstream budget, each audited like a single delete (src/audit.ts). A
 * refusal of the whole request (a bad user id, an end user naming someone else) is audited for
 * every id, as the single deletes would have been.
 */
async function bulkDelete(ctx: Context, operation: DeleteOperation, family: Family, ids: string[], prepare: () => Prepared): Promise<BulkPayload> {
  const stores = await ctx.gatedStores();
  const backend = stores[family].backend;
  const attemptOf = (id: string, userId: string | null) => ({ operation, family, backend, targetId: id, userId });
  let prepared: Prepared;
  try {
    prepared = prepare();
  } catch (error) {
    await auditedBatch(journalOf(ctx), stores, ids.map((id) => ({ attempt: attemptOf(id, null), refused: error })));
    throw error;
  }
  const items = ids.map((id): BatchItem => {
    const attempt = attemptOf(id, prepared.userId);
    try {
      return { attempt, call: prepared.callFor(id) };
    } catch (error) {
      return { attempt, refused: error };
    }
  });
  const outcome = await auditedBatch(journalOf(ctx), stores, items, { signal: ctx.signal });
  const results = ids.map((id, index) => {
    const error = outcome[index];
    if (error === null) return { id, deleted: true, code: null, message: null };
    return { id, deleted: false, ...clientError(error) };
  });
  const deletedCount = results.filter((r) => r.deleted).length;
  return { results, deletedCount, failedCount: results.length - deletedCount, backend };
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
        return { userId, callFor: (id) => ({ family: 'userEvents', userId, eventId: uuidV4OrV5('eventId', id) }) };
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
        return {
          userId: ownerUserId,
          callFor: (id) => ({ family: 'userMemories', userMemoryId: requiredId('userMemoryId', id), subTenantId, ownerUserId }),
        };
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
        return { userId, callFor: (id) => ({ family: 'memories', memoryId: requiredId('memoryId', id), userId, workspaceId }) };
      }),
  }),
);
