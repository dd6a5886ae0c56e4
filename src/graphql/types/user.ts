import type { Context } from '../../context.js';
import type { UserListLoaders } from '../../loaders.js';
import { actingUser } from '../authz.js';
import { builder } from '../builder.js';
import { cursorArg, pageSize, requiredId, uuidV4OrV5 } from '../validate.js';
import { MemoryConnection } from './memories.js';
import { UserEventConnection } from './user-events.js';
import { UserMemoryConnection } from './user-memories.js';

/** `first`/`after` with the same default page size as the family's root list. */
const pageArgs = (defaultFirst: number) =>
  builder.args((t) => ({
    first: t.int({ defaultValue: defaultFirst, description: 'Page size, 1 to 100.' }),
    after: t.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
  }));

/**
 * Resolves one of a user's lists through the request's loaders, with the root field's checks:
 * the id's format for that family, end-user rules, page size and cursor.
 */
function userList<F extends keyof UserListLoaders>(family: F, defaultFirst: number, checkId: (field: string, id: string) => string) {
  return (user: { id: string }, args: { first?: number | null; after?: string | null }, ctx: Context) => {
    const userId = actingUser(ctx, checkId('id', user.id))!;
    const loader = ctx.loaders[family]({ first: pageSize(args.first, defaultFirst), after: cursorArg(args.after) });
    return loader.load(userId) as ReturnType<ReturnType<UserListLoaders[F]>['load']>;
  };
}

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
      args: pageArgs(10),
      resolve: userList('userEvents', 10, uuidV4OrV5),
    }),
    userMemories: t.field({
      type: UserMemoryConnection,
      description: 'User memories about this user, newest first.',
      args: pageArgs(20),
      resolve: userList('userMemories', 20, requiredId),
    }),
    memories: t.field({
      type: MemoryConnection,
      description: "The user's memories, newest first.",
      args: pageArgs(50),
      resolve: userList('memories', 50, requiredId),
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
