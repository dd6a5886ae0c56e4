import { filter, pipe } from 'graphql-yoga';
import type { MemoryChangeEvent } from '../../events/change-bus.js';
import { actingUser } from '../authz.js';
import { builder } from '../builder.js';
import { optionalId } from '../validate.js';
import { MemoryBackend } from './common.js';

export const MemoryFamily = builder.enumType('MemoryFamily', {
  description: 'The three families of what the AI remembers.',
  values: {
    USER_EVENTS: { value: 'userEvents', description: 'User events (Memobase’s shape).' },
    USER_MEMORIES: { value: 'userMemories', description: 'User memories (Datagrid’s and Cortex’s shape).' },
    MEMORIES: { value: 'memories', description: 'Memories (Mielto’s shape).' },
  } as const,
});

const ChangeKind = builder.enumType('ChangeKind', {
  description: 'What happened.',
  values: {
    CREATED: { description: 'An item was created through the gateway.' },
    DELETED: { description: 'An item was deleted through the gateway (single, bulk or forget).' },
    FORGOTTEN: { description: 'A forget finished; `id` is its receipt id.' },
  } as const,
});

const MemoryChange = builder.objectRef<MemoryChangeEvent>('MemoryChange').implement({
  description: 'A change made through the gateway. Changes made directly at a provider are not seen.',
  fields: (t) => ({
    kind: t.field({ type: ChangeKind, resolve: (c) => c.kind, description: 'What happened.' }),
    family: t.field({ type: MemoryFamily, nullable: true, resolve: (c) => c.family, description: 'The family of the item; null for FORGOTTEN.' }),
    id: t.exposeID('id', { description: 'The item id (for FORGOTTEN, the receipt id).' }),
    userId: t.exposeString('userId', { nullable: true, description: 'The user the item belongs to, when known.' }),
    backend: t.field({ type: MemoryBackend, nullable: true, resolve: (c) => c.backend, description: 'Where the item lives; null for FORGOTTEN.' }),
    at: t.field({ type: 'DateTime', resolve: (c) => new Date(c.at), description: 'When it happened.' }),
    requestId: t.exposeString('requestId', { description: 'The gateway request that made the change (for a forget, the forgetUser request).' }),
  }),
});

builder.subscriptionType({ description: 'Watch what the AI remembers change, live (GraphQL over SSE).' });

builder.subscriptionField('memoryChanges', (t) =>
  t.field({
    type: MemoryChange,
    description:
      "The tenant's changes made through the gateway from now on: creates, deletes and finished forgets. Tenant keys see every user's (or one user's); " +
      "end users see only their own. Send the subscription with `Accept: text/event-stream` (GraphQL over SSE).",
    args: {
      userId: t.arg.string({ description: 'Only changes of this user.' }),
      families: t.arg({ type: [MemoryFamily], description: 'Only changes of these families (FORGOTTEN concerns them all and always comes).' }),
    },
    subscribe: (_root, args, ctx) => {
      const userId = actingUser(ctx, optionalId('userId', args.userId));
      const families = args.families ? new Set<string>(args.families) : null;
      const wanted = (change: MemoryChangeEvent) =>
        (userId == null || change.userId === userId) && (families == null || change.family == null || families.has(change.family));
      return pipe(ctx.privacy.changes.subscribe(ctx.principal.tenantId), filter(wanted));
    },
    resolve: (change) => change,
  }),
);
