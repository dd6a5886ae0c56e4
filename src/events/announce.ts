import type { BackendName } from '../backends/types.js';
import type { Context } from '../context.js';
import type { Family } from './change-bus.js';

/** Tells `memoryChanges` subscribers that an item was created; returns the item. */
export function announceCreated<T extends { id: string; userId: string | null; backend: BackendName }>(ctx: Context, family: Family, item: T): T {
  ctx.privacy.changes.publish({
    tenantId: ctx.principal.tenantId,
    kind: 'CREATED',
    family,
    id: item.id,
    userId: item.userId,
    backend: item.backend,
    at: new Date().toISOString(),
    requestId: ctx.requestId,
  });
  return item;
}
