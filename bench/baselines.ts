import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import { createSchema, createYoga } from 'graphql-yoga';
import pg from 'pg';
import { encodeCursor } from '../src/backends/cursor.js';

/**
 * The baselines the gateway is measured against: what the same answers cost without the
 * gateway. Each answers POSTs on `/list` (a tenant's newest memories, as `memories(first: N)`
 * answers them, byte for byte) and `/delete` (`{"id": …}`: the row and an audit record in one
 * transaction, answered as `deleteMemory` answers).
 */

export interface MemoryRow {
  id: string;
  userId: string;
  memory: string;
  topics: unknown;
  metadata: unknown;
  createdAt: Date;
  updatedAt: Date;
}

/** The JSON the gateway answers for `LIST_QUERY`, from the rows it read (one more than the page). */
export function listAnswer(rows: MemoryRow[], first: number): string {
  const page = rows.slice(0, first);
  const edges = page.map((row) => ({
    cursor: encodeCursor('local:memories', { t: row.createdAt.toISOString(), id: row.id }),
    node: {
      id: row.id,
      userId: row.userId,
      memory: row.memory,
      topics: row.topics ?? [],
      metadata: row.metadata ?? null,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
      backend: 'LOCAL',
    },
  }));
  return JSON.stringify({ data: { memories: { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } } } });
}

export const LIST_QUERY = (first: number) =>
  `{ memories(first: ${first}) { edges { cursor node { id userId memory topics metadata createdAt updatedAt backend } } pageInfo { hasNextPage endCursor } } }`;

export const DELETE_QUERY = 'mutation($id: ID!) { deleteMemory(memoryId: $id) { memoryId message backend } }';

const deleteAnswer = (id: string) => JSON.stringify({ data: { deleteMemory: { memoryId: id, message: 'Memory deleted successfully', backend: 'LOCAL' } } });
const notFoundAnswer = (id: string) => JSON.stringify({ errors: [{ message: `Memory ${id} not found`, extensions: { code: 'NOT_FOUND' } }], data: null });

function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch (error) {
        reject(error);
      }
    });
    request.on('error', reject);
  });
}

function send(response: ServerResponse, body: string) {
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

export interface Baseline {
  readonly url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

const closing = (server: Server) => () =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** The delete's audit record, as the gateway writes it for a tenant key. */
const auditRecord = (tenantId: string, id: string, outcome: string) => ({
  id: randomUUID(),
  tenantId,
  actor: 'key:baseline',
  operation: 'deleteMemory',
  backend: 'local',
  targetId: id,
  outcome,
  requestId: randomUUID(),
});

/** `node:http` and `better-sqlite3` on the gateway's own SQLite file, prepared statements. */
export async function rawSqliteBaseline(file: string, tenantId: string): Promise<Baseline> {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const list = db.prepare(
    'SELECT id, userId, memory, topics, metadata, createdAt, updatedAt FROM Memory WHERE tenantId = ? ORDER BY createdAt DESC, id DESC LIMIT ?',
  );
  const remove = db.prepare('DELETE FROM Memory WHERE tenantId = ? AND id = ?');
  const audit = db.prepare(
    'INSERT INTO DeletionAudit (id, at, tenantId, actor, operation, backend, targetId, outcome, requestId) VALUES (@id, @at, @tenantId, @actor, @operation, @backend, @targetId, @outcome, @requestId)',
  );
  const deleteWithRecord = db.transaction((id: string) => {
    const deleted = remove.run(tenantId, id).changes > 0;
    audit.run({ ...auditRecord(tenantId, id, deleted ? 'deleted' : 'not_found'), at: new Date().toISOString().replace('Z', '+00:00') });
    return deleted;
  });
  type Row = { id: string; userId: string; memory: string; topics: string; metadata: string | null; createdAt: string; updatedAt: string };
  const server = createServer(async (request, response) => {
    const body = await readJson(request);
    if (request.url === '/delete') {
      const id = String(body.id);
      return send(response, deleteWithRecord(id) ? deleteAnswer(id) : notFoundAnswer(id));
    }
    const first = Number(body.first ?? 20);
    const rows = (list.all(tenantId, first + 1) as Row[]).map((row) => ({
      ...row,
      topics: JSON.parse(row.topics),
      metadata: row.metadata === null ? null : JSON.parse(row.metadata),
      createdAt: new Date(row.createdAt),
      updatedAt: new Date(row.updatedAt),
    }));
    send(response, listAnswer(rows, first));
  });
  const url = await listen(server);
  const close = closing(server);
  return {
    url,
    async close() {
      await close();
      db.close();
    },
  };
}

/** `node:http` and `pg` (a pool of 10, as the gateway's) on the gateway's own PostgreSQL database. */
export async function rawPostgresBaseline(databaseUrl: string, tenantId: string): Promise<Baseline> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, options: '-c TimeZone=UTC' });
  // An idle connection the server ends is dropped from the pool; unheard, its error ends the bench.
  pool.on('error', (error) => console.error(`raw pg baseline: idle connection lost (${error.message})`));
  const server = createServer(async (request, response) => {
    const body = await readJson(request);
    if (request.url === '/delete') {
      const id = String(body.id);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rowCount } = await client.query({ name: 'delete', text: 'DELETE FROM "Memory" WHERE "tenantId" = $1 AND id = $2', values: [tenantId, id] });
        const record = auditRecord(tenantId, id, rowCount ? 'deleted' : 'not_found');
        await client.query({
          name: 'audit',
          text: 'INSERT INTO "DeletionAudit" (id, "tenantId", actor, operation, backend, "targetId", outcome, "requestId") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          values: [record.id, record.tenantId, record.actor, record.operation, record.backend, record.targetId, record.outcome, record.requestId],
        });
        await client.query('COMMIT');
        return send(response, rowCount ? deleteAnswer(id) : notFoundAnswer(id));
      } finally {
        client.release();
      }
    }
    const first = Number(body.first ?? 20);
    const { rows } = await pool.query<MemoryRow>({
      name: 'list',
      text: 'SELECT id, "userId", memory, topics, metadata, "createdAt", "updatedAt" FROM "Memory" WHERE "tenantId" = $1 ORDER BY "createdAt" DESC, id DESC LIMIT $2',
      values: [tenantId, first + 1],
    });
    send(response, listAnswer(rows, first));
  });
  const url = await listen(server);
  const close = closing(server);
  return {
    url,
    async close() {
      await close();
      await pool.end();
    },
  };
}

/**
 * The framework's ceiling: a bare Yoga server (no plugins of the gateway's, no database)
 * answering `LIST_QUERY` with the same shape from rows held in memory.
 */
export async function bareYogaBaseline(rows: MemoryRow[]): Promise<Baseline> {
  const schema = createSchema({
    typeDefs: /* GraphQL */ `
      scalar DateTime
      scalar JSON
      enum MemoryBackend { LOCAL }
      type Memory { id: ID! userId: String! memory: String! topics: [String!]! metadata: JSON createdAt: DateTime updatedAt: DateTime backend: MemoryBackend! }
      type MemoryEdge { cursor: String! node: Memory! }
      type PageInfo { hasNextPage: Boolean! endCursor: String }
      type MemoryConnection { edges: [MemoryEdge!]! pageInfo: PageInfo! }
      type Query { memories(first: Int): MemoryConnection! }
    `,
    resolvers: {
      DateTime: { serialize: (value: unknown) => (value as Date).toISOString() },
      JSON: { serialize: (value: unknown) => value },
      MemoryBackend: { LOCAL: 'local' },
      Query: {
        memories: (_root: unknown, { first }: { first?: number }) => {
          const n = first ?? 20;
          const edges = rows.slice(0, n).map((row) => ({
            cursor: encodeCursor('local:memories', { t: row.createdAt.toISOString(), id: row.id }),
            node: { ...row, backend: 'local' },
          }));
          return { edges, pageInfo: { hasNextPage: rows.length > n, endCursor: edges.at(-1)?.cursor ?? null } };
        },
      },
    },
  });
  const yoga = createYoga({ schema, graphqlEndpoint: '/list', logging: false, landingPage: false, graphiql: false });
  const server = createServer(yoga);
  const url = await listen(server);
  return { url, close: closing(server) };
}
