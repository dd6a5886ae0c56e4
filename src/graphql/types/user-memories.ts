import { z } from 'zod';
import { audited } from '../../audit.js';
import type { UserMemoryDTO } from '../../backends/types.js';
import { actingSubTenant, actingUser } from '../authz.js';
import { announceCreated } from '../../events/announce.js';
import { builder } from '../builder.js';
import { cursorArg, idText, longText, optionalId, optionalLongText, pageSize, parseInput, requiredId, shortList } from '../validate.js';
import { backendField } from './common.js';

export const UserMemory = builder.objectRef<UserMemoryDTO>('UserMemory').implement({
  description: 'A fact the AI keeps about a user, as Datagrid or Cortex store it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Memory id, as the backend issued it.' }),
    content: t.exposeString('content', { description: 'The remembered text.' }),
    userId: t.exposeString('userId', { nullable: true, description: 'The user it is about, when known.' }),
    agentId: t.exposeString('agentId', { nullable: true, description: 'The agent that holds it, when known.' }),
    userPrompt: t.exposeString('userPrompt', { nullable: true, description: 'The user prompt it came from, when kept.' }),
    context: t.exposeStringList('context', { description: 'Context lines kept with it.' }),
    subTenantId: t.exposeString('subTenantId', { nullable: true, description: 'Cortex sub-tenant it lives in, when any.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', nullable: true, description: 'When it was stored, when known.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', nullable: true, description: 'When it last changed, when known.' }),
    backend: t.field({ ...backendField, resolve: (m) => m.backend }),
  }),
});

export const UserMemoryConnection = builder.connectionObject(
  { type: UserMemory, name: 'UserMemoryConnection', description: 'A page of user memories, newest first.' },
  { name: 'UserMemoryEdge', description: 'A user memory and its cursor.' },
);

const AddUserMemoryInput = builder.inputType('AddUserMemoryInput', {
  description: 'A user memory to store.',
  fields: (t) => ({
    content: t.string({ required: true, description: 'The text to remember.' }),
    userId: t.string({ description: 'The user it is about.' }),
    agentId: t.string({ description: 'The agent that holds it (required by Datagrid).' }),
    userPrompt: t.string({ description: 'The user prompt it came from.' }),
    context: t.stringList({ description: 'Context lines to keep with it.' }),
    subTenantId: t.string({ description: 'Cortex sub-tenant to store it in.' }),
  }),
});

const AddUserMemorySchema = z.object({
  content: longText,
  userId: idText.nullish(),
  agentId: idText.nullish(),
  userPrompt: optionalLongText,
  context: shortList(longText).nullish(),
  subTenantId: idText.nullish(),
});

const DeleteUserMemoryPayload = builder
  .objectRef<{ userMemoryId: string; deleted: boolean; backend: UserMemoryDTO['backend'] }>('DeleteUserMemoryPayload')
  .implement({
    description: 'Result of deleting a user memory.',
    fields: (t) => ({
      userMemoryId: t.exposeID('userMemoryId', { description: 'The deleted memory.' }),
      deleted: t.exposeBoolean('deleted', { description: 'True: the memory is permanently gone.' }),
      backend: t.field({ ...backendField, resolve: (p) => p.backend }),
    }),
  });

builder.queryField('userMemories', (t) =>
  t.field({
    type: UserMemoryConnection,
    description: "The tenant's user memories, newest first, optionally for one user or agent.",
    args: {
      first: t.arg.int({ defaultValue: 20, description: 'Page size, 1 to 100.' }),
      after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
      userId: t.arg.string({ description: 'Only memories about this user.' }),
      agentId: t.arg.string({ description: 'Only memories held by this agent.' }),
      subTenantId: t.arg.string({ description: 'Cortex sub-tenant to read (its default sub-tenant when omitted).' }),
    },
    resolve: (_root, args, ctx) => {
      const first = pageSize(args.first, 20);
      const userId = actingUser(ctx, optionalId('userId', args.userId));
      return ctx.stores.userMemories.list(
        {
          first,
          after: cursorArg(args.after),
          userId,
          agentId: optionalId('agentId', args.agentId),
          subTenantId: actingSubTenant(ctx, optionalId('subTenantId', args.subTenantId)),
        },
        { signal: ctx.signal },
      );
    },
  }),
);

builder.mutationField('addUserMemory', (t) =>
  t.field({
    type: UserMemory,
    description: 'Stores a user memory (Cortex answers NOT_SUPPORTED).',
    args: { input: t.arg({ type: AddUserMemoryInput, required: true, description: 'The memory.' }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(AddUserMemorySchema, args.input, 'input');
      return ctx.stores.userMemories.add(
        {
          content: input.content,
          userId: actingUser(ctx, input.userId ?? null),
          agentId: input.agentId ?? null,
          userPrompt: input.userPrompt ?? null,
          context: input.context ?? [],
          subTenantId: actingSubTenant(ctx, input.subTenantId ?? null),
        },
        { signal: ctx.signal },
      ).then((created) => announceCreated(ctx, 'userMemories', created));
    },
  }),
);

builder.mutationField('deleteUserMemory', (t) =>
  t.field({
    type: DeleteUserMemoryPayload,
    description: 'Permanently deletes one user memory. NOT_FOUND when there is no such memory.',
    args: {
      userMemoryId: t.arg.id({ required: true, description: 'The memory.' }),
      subTenantId: t.arg.string({ description: 'Cortex sub-tenant it lives in.' }),
    },
    resolve: async (_root, args, ctx) => {
      const store = ctx.stores.userMemories;
      const attempt = { operation: 'deleteUserMemory', backend: store.backend, targetId: String(args.userMemoryId) } as const;
      const { call } = await audited(ctx, attempt, () => ({
        family: 'userMemories' as const,
        userMemoryId: requiredId('userMemoryId', String(args.userMemoryId)),
        subTenantId: actingSubTenant(ctx, optionalId('subTenantId', args.subTenantId)),
        ownerUserId: ctx.principal.kind === 'end-user' ? ctx.principal.userId : null,
      }));
      return { userMemoryId: call.userMemoryId, deleted: true, backend: store.backend };
    },
  }),
);
