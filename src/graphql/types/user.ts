import { actingUser } from '../authz.js';
import { builder } from '../builder.js';
import { cursorArg, pageSize, requiredId, uuidV4OrV5 } from '../validate.js';
import { MemoryConnection } from './memories.js';
import { UserEventConnection } from './user-events.js';
import { UserMemoryConnection } from './user-memories.js';

/**
 * A user of the tenant, known only by id: the gateway keeps no user records, so any id is a
 * user, possibly one with nothing remembered yet. Its lists go through the same stores,
 * validation and end-user rules as the root fields, and through the request's loaders, so many
 * users resolved together cost one store call per family and page size.
 */
export const User = builder.objectRef<{ id: string }>('User').implement({
  description: "A user of the tenant's apps, and what the AI remembers about them in each family.",
  fields: (t) => ({
    id: t.exposeID('id', { description: "The user's id, as the tenant's apps know it." }),
    events: t.field({
      type: UserEventConnection,
      description: "The user's events, newest first. The user id must be a UUID v4 or v5, as for `userEvents`.",
      args: {
        first: t.arg.int({ defaultValue: 10, description: 'Page size, 1 to 100.' }),
        after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
      },
      resolve: (user, args, ctx) => {
        const userId = actingUser(ctx, uuidV4OrV5('id', user.id))!;
        return ctx.loaders.userEvents({ first: pageSize(args.first, 10), after: cursorArg(args.after) }).load(userId);
      },
    }),
    userMemories: t.field({
      type: UserMemoryConnection,
      description: 'User memories about this user, newest first.',
      args: {
        first: t.arg.int({ defaultValue: 20, description: 'Page size, 1 to 100.' }),
        after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
      },
      resolve: (user, args, ctx) => {
        const userId = actingUser(ctx, requiredId('id', user.id))!;
        return ctx.loaders.userMemories({ first: pageSize(args.first, 20), after: cursorArg(args.after) }).load(userId);
      },
    }),
    memories: t.field({
      type: MemoryConnection,
      description: "The user's memories, newest first.",
      args: {
        first: t.arg.int({ defaultValue: 50, description: 'Page size, 1 to 100.' }),
        after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
      },
      resolve: (user, args, ctx) => {
        const userId = actingUser(ctx, requiredId('id', user.id))!;
        return ctx.loaders.memories({ first: pageSize(args.first, 50), after: cursorArg(args.after) }).load(userId);
      },
    }),
  }),
});

/**
 * Other subgraphs hold users by the same id, so the gateway can be asked for any of them: a
 * reference needs no lookup (there is no user record to find), and its lists are read when
 * selected, through the loaders, so one `_entities` call for many users stays batched.
 */
builder.asEntity(User, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: ({ id }) => ({ id }),
});
