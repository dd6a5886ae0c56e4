import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeReachable } from '../../src/db.js';
import { migrateDatabase } from '../../src/migrate.js';
import { dataOf, startGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { adminQuery, startPostgres, type PostgresServer } from '../helpers/postgres.js';

/**
 * PostgreSQL going away and coming back, with a real server process: requests fail with a
 * contract error instead of hanging, and the gateway serves again by itself once the database
 * is back, without a restart.
 */

const TIMEOUT_MS = 1_500;
/** Far above TIMEOUT_MS: an answer later than this means the request hung. */
const HANG = 20_000;

const CREATE = `mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id } }`;
const LIST = `{ memories(userId: "u1") { edges { node { id memory } } } }`;

/** The response, or a failure saying the request hung. */
async function answered<T>(request: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer after ${HANG} ms: the request hung`)), HANG);
  });
  try {
    return await Promise.race([request, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until `request` succeeds: the gateway must pick the database up again by itself. */
async function servesAgain(request: () => Promise<GraphQLResponse>): Promise<GraphQLResponse> {
  let last: GraphQLResponse | undefined;
  for (let attempt = 0; attempt < 60; attempt++) {
    last = await answered(request());
    if (last.status === 200 && !last.body.errors) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`still failing after the database came back:\n${JSON.stringify(last?.body)}`);
}

function expectUnavailable(response: GraphQLResponse) {
  expect(response.status, JSON.stringify(response.body)).toBe(503);
  expect(response.body.errors).toHaveLength(1);
  const [error] = response.body.errors!;
  expect(error).toMatchObject({ message: 'The store is unavailable; try again shortly', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  // Nothing about the database leaks to the client.
  expect(JSON.stringify(response.body)).not.toMatch(/127\.0\.0\.1|postgres|ECONN|terminat|timeout/i);
}

describe('PostgreSQL stopped, frozen and back', () => {
  let server: PostgresServer;
  let gateway: TestGateway;
  let token: string;
  let written: string;

  beforeAll(async () => {
    server = await startPostgres();
    await adminQuery(server.url(), 'CREATE DATABASE gateway');
    await migrateDatabase({ databaseUrl: server.url('gateway') });
    gateway = await startGateway({ DATABASE_URL: server.url('gateway'), DATABASE_TIMEOUT_MS: String(TIMEOUT_MS) });
    token = await gateway.createKey('acme');
    written = dataOf(await gateway.execute<any>(CREATE, { i: { userId: 'u1', memory: 'before the outage' } }, { token })).createMemory.id;
  }, 180_000);
  afterAll(async () => {
    await gateway?.close();
    await server?.destroy();
  });

  it('stopped: reads, writes and authentication fail with a contract error, and serving resumes when it is back', async () => {
    await server.stop();
    expectUnavailable(await answered(gateway.execute(LIST, {}, { token })));
    expectUnavailable(await answered(gateway.execute(CREATE, { i: { userId: 'u1', memory: 'during the outage' } }, { token })));
    // A request whose key cannot be checked is not let in, nor told its key is wrong.
    expectUnavailable(await answered(gateway.execute(LIST, {}, { token: `${token.slice(0, -1)}x` })));
    expect(await storeReachable(gateway.app.prisma)).toBe(false);
    // The process itself still answers.
    expect((await gateway.fetch('/health')).status).toBe(200);

    await server.start();
    const listed = await servesAgain(() => gateway.execute(LIST, {}, { token }));
    expect(listed.body.data).toEqual({ memories: { edges: [{ node: { id: written, memory: 'before the outage' } }] } });
    expect(await storeReachable(gateway.app.prisma)).toBe(true);
    dataOf(await gateway.execute(CREATE, { i: { userId: 'u1', memory: 'after the outage' } }, { token }));
  });

  it('frozen (nothing answers, connections stay open): requests fail within the timeout instead of hanging, and serving resumes', async () => {
    // Warm connections in the pool, then the server stops answering on them.
    dataOf(await gateway.execute(LIST, {}, { token }));
    server.freeze();
    try {
      expectUnavailable(await answered(gateway.execute(LIST, {}, { token })));
      expect(await answered(storeReachable(gateway.app.prisma))).toBe(false);
    } finally {
      server.thaw();
    }
    const listed = await servesAgain(() => gateway.execute(LIST, {}, { token }));
    expect(dataOf<any>(listed).memories.edges.map((e: any) => e.node.memory)).toContain('after the outage');
  });

  it('logs the failed requests and the lost connections as warnings, one line each, without the database URL', () => {
    const lines = gateway.logs.map((line) => JSON.parse(line) as { level: number; msg: string; reason?: string });
    const unavailable = lines.filter((line) => line.msg === 'store unavailable');
    expect(unavailable.length).toBeGreaterThanOrEqual(4);
    expect(unavailable.every((line) => line.level === 40 && line.reason && !line.reason.includes('\n'))).toBe(true);
    expect(lines.some((line) => line.msg.startsWith('PostgreSQL connection lost'))).toBe(true);
    expect(lines.filter((line) => line.msg === 'unexpected error')).toEqual([]);
    expect(gateway.logs.join('\n')).not.toContain(server.url('gateway'));
  });
});
