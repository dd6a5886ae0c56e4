import type { BackendName } from '../../backends/types.js';
import { afterTimeKey, decodeCursor, encodeCursor, isTimeKey, toConnection } from '../../backends/cursor.js';
import { requireTenantKey } from '../authz.js';
import { builder } from '../builder.js';
import { cursorArg, optionalId, pageSize } from '../validate.js';
import { MemoryBackend } from './common.js';

const CURSOR = 'deletionAudit';

export const DeletionAuditEntry = builder.prismaObject('DeletionAudit', {
  variant: 'DeletionAuditEntry',
  description: 'One delete attempt through the gateway, whatever its outcome. Never holds memory content.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Record id.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the attempt was made.' }),
    operation: t.exposeString('operation', { description: 'The mutation: deleteUserEvent, deleteUserMemory or deleteMemory.' }),
    backend: t.field({ type: MemoryBackend, resolve: (row) => row.backend as BackendName, description: 'The backend the delete was routed to.' }),
    targetId: t.exposeID('targetId', { description: 'The id the caller asked to delete.' }),
    userId: t.exposeString('userId', { nullable: true, description: 'The user named in the request, or the end user who made it; null when neither is known.' }),
    outcome: t.exposeString('outcome', {
      description: '`deleted`, or the lower-cased error code the caller received (e.g. `not_found`, `upstream_error`).',
    }),
    actor: t.exposeString('actor', { description: 'Who asked: `key:<key id>` or `user:<user id>`.' }),
    requestId: t.exposeString('requestId', { description: "The gateway's own request id (sent as the X-Request-Id response header)." }),
    clientRequestId: t.exposeString('clientRequestId', {
      nullable: true,
      description: 'The X-Request-Id the client sent with the request, if any; for correlation only.',
    }),
  }),
});

const DeletionAuditConnection = builder.connectionObject(
  { type: DeletionAuditEntry, name: 'DeletionAuditConnection', description: 'A page of deletion audit records, newest first.' },
  { name: 'DeletionAuditEdge', description: 'An audit record and its cursor.' },
);

builder.queryField('deletionAudit', (t) =>
  t.field({
    type: DeletionAuditConnection,
    description: "The tenant's deletion audit trail, newest first. Tenant API keys only.",
    args: {
      userId: t.arg.string({ description: 'Only attempts on this user (named in the request, or made by them with an end-user token).' }),
      first: t.arg.int({ defaultValue: 50, description: 'Page size, 1 to 100.' }),
      after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
    },
    resolve: async (_root, args, ctx) => {
      requireTenantKey(ctx, 'deletionAudit');
      const first = pageSize(args.first, 50);
      const after = cursorArg(args.after);
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const userId = optionalId('userId', args.userId);
      const rows = await ctx.prisma.deletionAudit.findMany({
        where: { tenantId: ctx.principal.tenantId, ...(userId != null && { userId }), ...afterTimeKey(key, 'at') },
        orderBy: [{ at: 'desc' }, { id: 'desc' }],
        take: first + 1,
      });
      return toConnection(rows, first, (r) => encodeCursor(CURSOR, { t: r.at.toISOString(), id: r.id }));
    },
  }),
);
