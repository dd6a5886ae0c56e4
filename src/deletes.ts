import { UpstreamBudget } from './backends/budget.js';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { StoreRouter } from './backends/route.js';
import type { CallOptions, Stores } from './backends/types.js';
import type { Config } from './config.js';
import { sqliteFile } from './db.js';
import { statementCache } from './statement-cache.js';
import { isAppError, notFound } from './errors.js';
import { adapterOf, argumentOf } from './direct-reads.js';
import type { PrismaClient } from './generated/prisma/client.js';

/**
 * Deletes as data: what a single delete asks of its family's store. The same description runs the
 * delete, is kept with a provider delete's `pending` audit record, and lets a record left pending
 * by a crash be settled by sending the delete again (deletes are idempotent by id).
 */
export const DeleteCall = z.discriminatedUnion('family', [
  z.object({ family: z.literal('userEvents'), userId: z.string(), eventId: z.string() }),
  z.object({
    family: z.literal('userMemories'),
    userMemoryId: z.string(),
    subTenantId: z.string().nullable(),
    /** Set for end users: only their own memory may go. */
    ownerUserId: z.string().nullable(),
  }),
  z.object({ family: z.literal('memories'), memoryId: z.string(), userId: z.string().nullable(), workspaceId: z.string().nullable() }),
]);
export type DeleteCall = z.infer<typeof DeleteCall>;

/** What a successful delete of a memory says when its store has no message of its own. */
export const MEMORY_DELETED = 'Memory deleted successfully';

/** Sends a delete to the store that serves its family; the store's message for memories. */
export async function sendDelete(stores: Stores, call: DeleteCall, options: CallOptions): Promise<{ message?: string }> {
  switch (call.family) {
    case 'userEvents':
      await stores.userEvents.delete(call.userId, call.eventId, options);
      return {};
    case 'userMemories':
      await stores.userMemories.delete(call.userMemoryId, { subTenantId: call.subTenantId, ownerUserId: call.ownerUserId }, options);
      return {};
    case 'memories':
      return stores.memories.delete(call.memoryId, { userId: call.userId, workspaceId: call.workspaceId }, options);
  }
}

/** The NOT_FOUND a delete of nothing answers, worded as each store words it. */
export function notFoundFor(call: DeleteCall) {
  switch (call.family) {
    case 'userEvents':
      return notFound(`User event ${call.eventId}`);
    case 'userMemories':
      return notFound(`User memory ${call.userMemoryId}`);
    case 'memories':
      return notFound(`Memory ${call.memoryId}`);
  }
}

/** A DeletionAudit row as Prisma writes it (src/audit.ts builds it). */
export interface AuditRow {
  id: string;
  tenantId: string;
  actor: string;
  operation: string;
  backend: string;
  targetId: string;
  userId: string | null;
  outcome: string;
  requestId: string;
  [column: string]: string | null | undefined;
}

/** The id of the item a delete names. */
export function targetOf(call: DeleteCall): string {
  switch (call.family) {
    case 'userEvents':
      return call.eventId;
    case 'userMemories':
      return call.userMemoryId;
    case 'memories':
      return call.memoryId;
  }
}

/** One delete of a local batch and the audit record that goes with it (its outcome is set by the batch). */
export interface LocalBatchItem {
  call: DeleteCall;
  record: AuditRow;
}

/** A forget job's items that a batch settles: their outcomes commit with the deletes. */
export interface ForgetProgress {
  jobId: string;
  family: DeleteCall['family'];
}

/**
 * Local deletes: the rows and their audit records commit in one transaction, so a crash leaves
 * either both changes or neither.
 */
export interface LocalDeleteTransactions {
  /**
   * Deletes the items of one family with one statement per set of conditions (a bulk delete's
   * ids share theirs: one statement) and writes one record per item, `deleted` or `not_found`,
   * atomically. `progress` marks a forget job's items `deleted` or `gone` in the same transaction.
   * Returns, per item, whether it was deleted (an id repeated in the batch is deleted once).
   */
  deleteBatchWithRecords(tenantId: string, items: readonly LocalBatchItem[], progress?: ForgetProgress): Promise<boolean[]>;
  close(): void;
}

type Table = 'UserEvent' | 'UserMemory' | 'Memory';

/** One DELETE of a batch: the family's table, the conditions besides the id, the ids. */
interface BatchStatement {
  table: Table;
  where: [string, string][];
  ids: string[];
}

/** Each family's table and the conditions its local store applies besides the id (src/backends/local/). */
function deleteConditions(tenantId: string, call: DeleteCall): { table: Table; where: [string, string][] } {
  const where: [string, string | null][] = [['tenantId', tenantId]];
  const present = () => where.filter((w): w is [string, string] => w[1] !== null);
  switch (call.family) {
    case 'userEvents':
      where.push(['userId', call.userId]);
      return { table: 'UserEvent', where: present() };
    case 'userMemories':
      where.push(['subTenantId', call.subTenantId], ['userId', call.ownerUserId]);
      return { table: 'UserMemory', where: present() };
    case 'memories':
      where.push(['userId', call.userId], ['workspaceId', call.workspaceId]);
      return { table: 'Memory', where: present() };
  }
}

/** The statements a batch needs: one per distinct set of conditions (one for a bulk delete). */
function batchStatements(tenantId: string, calls: readonly DeleteCall[]): BatchStatement[] {
  if (new Set(calls.map((call) => call.family)).size > 1) throw new Error('a local delete batch holds one family');
  const statements = new Map<string, BatchStatement>();
  for (const call of calls) {
    const { table, where } = deleteConditions(tenantId, call);
    const key = JSON.stringify(where);
    const statement = statements.get(key) ?? { table, where, ids: [] };
    statement.ids.push(targetOf(call));
    statements.set(key, statement);
  }
  return [...statements.values()];
}

/** Per item, whether it was deleted: the first item naming a deleted id gets it, a repeat of it does not. */
function deletedPerItem(items: readonly LocalBatchItem[], deleted: ReadonlySet<string>): boolean[] {
  const claimed = new Set<string>();
  return items.map(({ call }) => {
    const id = targetOf(call);
    if (!deleted.has(id) || claimed.has(id)) return false;
    claimed.add(id);
    return true;
  });
}

/** The DELETE of one batch statement, with `?` placeholders: the conditions' values, then the ids. */
function deleteSql(table: Table, where: [string, string][], idCount: number): string {
  const conditions = [...where.map(([column]) => `"${column}" = ?`), `"id" IN (${Array.from({ length: idCount }, () => '?').join(', ')})`].join(' AND ');
  return `DELETE FROM "${table}" WHERE ${conditions} RETURNING "id"`;
}

/** One INSERT of a batch's audit records, `deleted` or `not_found` each, with `?` placeholders. */
function auditInsert(items: readonly LocalBatchItem[], outcomes: boolean[], at: string | Date): { sql: string; values: unknown[] } {
  const rows: AuditRow[] = items.map(({ record }, index) => ({ ...record, outcome: outcomes[index] ? 'deleted' : 'not_found' }));
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row).filter((column) => row[column] !== undefined)))];
  const tuple = `(?, ${columns.map(() => '?').join(', ')})`;
  return {
    sql: `INSERT INTO "DeletionAudit" ("at", ${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${rows.map(() => tuple).join(', ')}`,
    values: rows.flatMap((row) => [at, ...columns.map((column) => row[column] ?? null)]),
  };
}

/**
 * SQLite: a connection of its own, and the transaction runs synchronously on it. Prisma's SQLite
 * adapter has one connection for everything, so an interactive Prisma transaction would also
 * swallow (and, on rollback, undo) other requests' statements that run while it is open; a
 * synchronous transaction lets nothing else run in between, and SQLite's file lock keeps it
 * apart from Prisma's connection.
 */
export function sqliteLocalDeletes(databaseUrl: string, options: { onQuery?: (sql: string) => void } = {}): LocalDeleteTransactions {
  let db: Database.Database | undefined;
  let cached: ((sql: string) => Database.Statement) | undefined;
  const open = () => {
    if (!db || !cached) {
      db = new Database(sqliteFile(databaseUrl), { timeout: 5000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      cached = statementCache(db);
    }
    const statements = cached;
    // Logged like Prisma's statements (CreatePrismaOptions.onQuery), so that tests see these too.
    const prepare = (sql: string) => {
      options.onQuery?.(sql);
      return statements(sql);
    };
    return { connection: db, prepare };
  };
  return {
    async deleteBatchWithRecords(tenantId, items, progress) {
      const { connection, prepare } = open();
      const run = connection.transaction(() => {
        const deleted = new Set<string>();
        for (const { table, where, ids } of batchStatements(tenantId, items.map((item) => item.call))) {
          const rows = prepare(deleteSql(table, where, ids.length)).all(
            ...where.map(([, value]) => value),
            ...ids,
          ) as { id: string }[];
          for (const row of rows) deleted.add(row.id);
        }
        const outcomes = deletedPerItem(items, deleted);
        // `at` in the format Prisma's SQLite adapter writes (its default "iso8601": +00:00, not Z),
        // so that records sort and read back alike whoever wrote them.
        const insert = auditInsert(items, outcomes, new Date().toISOString().replace('Z', '+00:00'));
        prepare(insert.sql).run(...insert.values);
        if (progress) {
          const ids = items.map(({ call }) => targetOf(call));
          prepare(
            `UPDATE "ForgetItem" SET "outcome" = CASE WHEN "itemId" IN (SELECT value FROM json_each(?)) THEN 'deleted' ELSE 'gone' END ` +
              `WHERE "jobId" = ? AND "family" = ? AND "itemId" IN (SELECT value FROM json_each(?))`,
          ).run(JSON.stringify(ids.filter((id) => deleted.has(id))), progress.jobId, progress.family, JSON.stringify(ids));
        }
        return outcomes;
      });
      // IMMEDIATE takes the write lock first, so the transaction cannot fail half-way on a busy file.
      return run.immediate();
    },
    close() {
      db?.close();
      db = undefined;
      cached = undefined;
    },
  };
}

/**
 * PostgreSQL: one transaction on a pooled connection of Prisma's PostgreSQL adapter (the one the
 * client runs on, src/direct-reads.ts), with the same statements as SQLite's. An interactive
 * `prisma.$transaction` sends the same four statements (BEGIN, DELETE, INSERT, COMMIT) but costs
 * several milliseconds of CPU more per delete in the client's query pipeline.
 */
export function postgresLocalDeletes(prisma: PrismaClient): LocalDeleteTransactions {
  return {
    async deleteBatchWithRecords(tenantId, items, progress) {
      const connected = await adapterOf(prisma);
      if (!connected) throw new Error('PostgreSQL deletes need a client built by createPrisma');
      const { adapter, onQuery } = connected;
      const tx = await adapter.startTransaction();
      const statement = (sql: string, values: unknown[]) => {
        let n = 0;
        // The builders write SQLite's `?`; PostgreSQL numbers its placeholders.
        const numbered = sql.replace(/\?/g, () => `$${++n}`);
        onQuery?.(numbered, JSON.stringify(values));
        const args = values.map(argumentOf);
        return { sql: numbered, args: args.map((a) => a.arg), argTypes: args.map((a) => a.type) };
      };
      try {
        const deleted = new Set<string>();
        for (const { table, where, ids } of batchStatements(tenantId, items.map((item) => item.call))) {
          // RETURNING tells exactly which rows this statement removed, even when another request
          // deletes some of them at the same moment. Table and columns come from deleteConditions.
          const result = await tx.queryRaw(statement(deleteSql(table, where, ids.length), [...where.map(([, value]) => value), ...ids]));
          for (const [id] of result.rows) deleted.add(id as string);
        }
        const outcomes = deletedPerItem(items, deleted);
        const insert = auditInsert(items, outcomes, new Date());
        await tx.executeRaw(statement(insert.sql, insert.values));
        if (progress) {
          const ids = items.map(({ call }) => targetOf(call));
          await tx.executeRaw(
            statement(
              `UPDATE "ForgetItem" SET "outcome" = CASE WHEN "itemId" = ANY(?::text[]) THEN 'deleted' ELSE 'gone' END ` +
                `WHERE "jobId" = ? AND "family" = ? AND "itemId" = ANY(?::text[])`,
              [ids.filter((id) => deleted.has(id)), progress.jobId, progress.family, ids],
            ),
          );
        }
        await tx.executeRaw(statement('COMMIT', []));
        await tx.commit();
        return outcomes;
      } catch (error) {
        await tx.executeRaw({ sql: 'ROLLBACK', args: [], argTypes: [] }).catch(() => undefined);
        await tx.rollback();
        throw error;
      }
    },
    close() {},
  };
}

/** Whether a provider delete's answer settles its record: NOT_FOUND after an unknown outcome counts as deleted. */
function settledOutcome(error: unknown): 'deleted' | undefined {
  return isAppError(error) && error.code === 'NOT_FOUND' ? 'deleted' : undefined;
}

/**
 * The longest a provider delete can stay in flight: its retries' time budget plus one attempt's
 * timeout, and a margin. A `pending` record older than this belongs to no running request.
 */
export function inFlightLimitMs(config: Pick<Config, 'upstream' | 'providers'>): number {
  const longestTimeout = Math.max(...Object.values(config.providers).map((p) => p.timeoutMs));
  return config.upstream.retryBudgetMs + longestTimeout + 1000;
}

export interface RecoveryDeps {
  prisma: PrismaClient;
  router: StoreRouter;
  logger: Logger;
  /** Only records older than this are settled (see inFlightLimitMs). */
  olderThanMs: number;
}

/**
 * Settles provider deletes left `pending` (a crash between the record and the provider's answer,
 * or a client that went away): sends each delete again and records `deleted` when the provider
 * confirms it or no longer has the item. Records whose provider cannot be reached stay pending
 * for the next round. Returns how many were settled.
 */
export async function settlePendingDeletes({ prisma, router, logger, olderThanMs }: RecoveryDeps): Promise<number> {
  const pending = await prisma.deletionAudit.findMany({
    where: { outcome: 'pending', at: { lt: new Date(Date.now() - olderThanMs) } },
    orderBy: { at: 'asc' },
    take: 500,
  });
  let settled = 0;
  for (const record of pending) {
    const call = DeleteCall.safeParse(record.scope);
    if (!call.success) {
      logger.error({ auditId: record.id }, 'pending delete record has no usable scope; left pending');
      continue;
    }
    let outcome: string | undefined;
    try {
      // One delete, sent again (with the client's retries): a small budget is plenty.
      const stores = await router.storesFor(record.tenantId, new UpstreamBudget(10));
      const backend = stores[call.data.family].backend;
      if (backend !== record.backend) {
        logger.warn({ auditId: record.id, recorded: record.backend, routed: backend }, 'pending delete: the tenant is now routed elsewhere; left pending');
        continue;
      }
      await sendDelete(stores, call.data, {});
      outcome = 'deleted';
    } catch (error) {
      outcome = settledOutcome(error);
      if (!outcome) {
        logger.warn({ auditId: record.id, code: isAppError(error) ? error.code : 'INTERNAL_SERVER_ERROR' }, 'pending delete not settled yet; retried later');
        continue;
      }
    }
    const { count } = await prisma.deletionAudit.updateMany({ where: { id: record.id, outcome: 'pending' }, data: { outcome } });
    settled += count;
  }
  if (settled > 0) logger.info({ settled }, 'settled pending deletes');
  return settled;
}

/**
 * Settles pending deletes at start-up and then every `olderThanMs / 2`, so records of a crashed
 * instance are settled as soon as they can no longer be in flight anywhere. Returns `stop`.
 */
export function startDeleteRecovery(deps: RecoveryDeps): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const round = () => {
    // One round at a time: a slow provider must not stack rounds that send the same deletes.
    if (stopped || running) return;
    running = settlePendingDeletes(deps)
      .catch((error: unknown) => deps.logger.error({ err: error }, 'settling pending deletes failed'))
      .finally(() => {
        running = undefined;
      });
  };
  round();
  const timer = setInterval(round, Math.max(500, Math.floor(deps.olderThanMs / 2)));
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
