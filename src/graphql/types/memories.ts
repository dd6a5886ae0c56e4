import { z } from 'zod';
import { audited } from '../../audit.js';
import type { JsonValue, MemoryDTO } from '../../backends/types.js';
import { actingUser } from '../authz.js';
import { announceCreated } from '../../events/announce.js';
import { builder } from '../builder.js';
import { LIMITS, cursorArg, idText, longText, optionalId, pageSize, parseInput, requiredId, shortList, shortText } from '../validate.js';
import { backendField } from './common.js';

export const Memory = builder.objectRef<MemoryDTO>('Memory').implement({
  description: 'A memory the AI keeps about a user, as Mielto stores it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Memory id, as the backend issued it.' }),
    userId: t.exposeString('userId', { description: 'The user it belongs to.' }),
    memory: t.exposeString('memory', { description: 'The remembered text.' }),
    topics: t.exposeStringList('topics', { description: 'Topics it is filed under.' }),
    metadata: t.expose('metadata', { type: 'JSON', nullable: true, description: 'Free-form metadata stored with it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', nullable: true, description: 'When it was stored, when known.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', nullable: true, description: 'When it last changed, when known.' }),
    backend: t.field({ ...backendField, resolve: (m) => m.backend }),
  }),
});

export const MemoryConnection = builder.connectionObject(
  { type: Memory, name: 'MemoryConnection', description: 'A page of memories, newest first.' },
  { name: 'MemoryEdge', description: 'A memory and its cursor.' },
);

const CreateMemoryInput = builder.inputType('CreateMemoryInput', {
  description: 'A memory to store.',
  fields: (t) => ({
    userId: t.string({ required: true, description: 'The user it belongs to.' }),
    memory: t.string({ required: true, description: 'The text to remember.' }),
    topics: t.stringList({ description: 'Topics to file it under.' }),
    metadata: t.field({ type: 'JSON', description: 'Free-form metadata (a JSON object of at most 16 KiB).' }),
  }),
});

const metadata = z
  .record(z.string(), z.unknown())
  .nullish()
  .refine((v) => v == null || Buffer.byteLength(JSON.stringify(v)) <= LIMITS.metadataBytes, {
    message: `must be at most ${LIMITS.metadataBytes} bytes of JSON`,
  });

const CreateMemorySchema = z.object({
  userId: idText,
  memory: longText,
  topics: shortList(shortText).nullish(),
  metadata,
});

const DeleteMemoryPayload = builder
  .objectRef<{ memoryId: string; message: string; backend: MemoryDTO['backend'] }>('DeleteMemoryPayload')
  .implement({
    description: 'Result of deleting a memory.',
    fields: (t) => ({
      memoryId: t.exposeID('memoryId', { description: 'The deleted memory.' }),
      message: t.exposeString('message', { description: "The backend's confirmation." }),
      backend: t.field({ ...backendField, resolve: (p) => p.backend }),
    }),
  });

builder.queryField('memories', (t) =>
  t.field({
    type: MemoryConnection,
    description: "The tenant's memories, newest first, optionally for one user.",
    args: {
      userId: t.arg.string({ description: 'Only memories of this user.' }),
      workspaceId: t.arg.string({ description: 'Mielto workspace to read (the tenant default when omitted).' }),
      first: t.arg.int({ defaultValue: 50, description: 'Page size, 1 to 100.' }),
      after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
    },
    resolve: (_root, args, ctx) => {
      const first = pageSize(args.first, 50);
      return ctx.stores.memories.list(
        {
          first,
          after: cursorArg(args.after),
          userId: actingUser(ctx, optionalId('userId', args.userId)),
          workspaceId: optionalId('workspaceId', args.workspaceId),
        },
        { signal: ctx.signal },
      );
    },
  }),
);

builder.mutationField('createMemory', (t) =>
  t.field({
    type: Memory,
    description: 'Stores a memory for a user.',
    args: {
      input: t.arg({ type: CreateMemoryInput, required: true, description: 'The memory.' }),
      workspaceId: t.arg.string({ description: 'Mielto workspace to store it in.' }),
    },
    resolve: (_root, args, ctx) => {
      const input = parseInput(CreateMemorySchema, args.input, 'input');
      return ctx.stores.memories.create(
        {
          userId: actingUser(ctx, input.userId)!,
          memory: input.memory,
          topics: input.topics ?? [],
          metadata: (input.metadata ?? null) as JsonValue | null,
        },
        { workspaceId: optionalId('workspaceId', args.workspaceId) },
        { signal: ctx.signal },
      ).then((created) => announceCreated(ctx, 'memories', created));
    },
  }),
);

builder.mutationField('deleteMemory', (t) =>
  t.field({
    type: DeleteMemoryPayload,
    description: 'Permanently deletes one memory. NOT_FOUND when there is no such memory.',
    args: {
      memoryId: t.arg.id({ required: true, description: 'The memory.' }),
      userId: t.arg.string({ description: 'Its owner (Mielto lets only the owner delete).' }),
      workspaceId: t.arg.string({ description: 'Mielto workspace it lives in.' }),
    },
    resolve: async (_root, args, ctx) => {
      const store = ctx.stores.memories;
      const attempt = { operation: 'deleteMemory', backend: store.backend, targetId: String(args.memoryId), userId: args.userId } as const;
      const { call, message } = await audited(ctx, attempt, () => ({
        family: 'memories' as const,
        memoryId: requiredId('memoryId', String(args.memoryId)),
        userId: actingUser(ctx, optionalId('userId', args.userId)),
        workspaceId: optionalId('workspaceId', args.workspaceId),
      }));
      return { memoryId: call.memoryId, message, backend: store.backend };
    },
  }),
);
