import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.js';
import { createPrisma, type PrismaClient } from '../../src/db.js';
import { setTenant } from '../../src/tenants.js';
import { STORES, testDatabase, type TestStore } from '../helpers/databases.js';
import type { TestDatabase } from '../helpers/postgres.js';
import { dataOf, errorOf, startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * A verified API key is served from memory, and every change to keys or tenants made by another
 * client of the database (the CLI, another instance; here a second Prisma client) counts from
 * the next request: the key is read again.
 */
describe.each(STORES)('API keys kept in memory, on %s', (store: TestStore) => {
  let database: TestDatabase;
  let gateway: TestGateway;
  let other: PrismaClient;

  beforeAll(async () => {
    database = await testDatabase(store);
    gateway = await startGateway({ DATABASE_URL: database.url });
    // Another process's view of the same database: its own client and connections.
    other = await createPrisma({ databaseUrl: database.url });
  }, 120_000);
  afterAll(async () => {
    await other?.$disconnect();
    await gateway?.close();
    await database?.drop();
  });

  const list = (token: string) => gateway.execute<any>('{ memories(first: 1) { edges { node { backend } } } }', {}, { token });
  const keyLookups = () => gateway.sql.filter((sql) => /FROM "ApiKey"/.test(sql)).length;
  /** Waits until the gateway has heard of a change (PostgreSQL delivers it on commit, asynchronously). */
  const eventually = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  it('reads a key once while nothing changes', async () => {
    const { key } = await createApiKey(other, 'cached');
    await eventually(async () => (await list(key)).status === 200);
    gateway.sql.length = 0;
    for (let i = 0; i < 3; i++) expect((await list(key)).status).toBe(200);
    expect(keyLookups()).toBeLessThanOrEqual(1);
  });

  it('refuses a key revoked by another client from the next request', async () => {
    const { key, id } = await createApiKey(other, 'revoked-elsewhere');
    await eventually(async () => (await list(key)).status === 200);
    expect((await list(key)).status).toBe(200);
    expect(await revokeApiKey(other, id)).toBe(true);
    // SQLite sees the commit at once; PostgreSQL's notification arrives within milliseconds.
    await eventually(async () => (await list(key)).status === 401);
    const refused = await list(key);
    expect(refused.status).toBe(401);
    expect(errorOf(refused).extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('routes by a tenant setting changed by another client from the next request', async () => {
    const { key } = await createApiKey(other, 'rerouted');
    expect(dataOf(await list(key)).memories.edges).toEqual([]);
    await setTenant(other, gateway.config, 'rerouted', { memories: 'mielto' });
    // Mielto is not configured in this gateway: the new routing shows as its NOT_CONFIGURED-style error.
    await eventually(async () => (await list(key)).body.errors !== undefined);
    expect((await list(key)).body.errors?.[0]?.message).toMatch(/mielto/i);
  });
});
