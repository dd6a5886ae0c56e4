import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from './helpers/gateway.js';

/**
 * `GET /health` answers while the process runs; `GET /ready` only while the store answers with
 * every committed migration applied, and not once a shutdown has begun.
 */

describe('health and readiness', () => {
  let gateway: TestGateway;
  let db: Database.Database;

  beforeAll(async () => {
    gateway = await startGateway();
    db = new Database(gateway.config.databaseUrl.slice('file:'.length));
  });
  afterAll(async () => {
    db?.close();
    await gateway?.close();
  });

  const ready = async () => {
    const response = await gateway.fetch('/ready');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    return { status: response.status, body: await response.json() };
  };

  it('is ready with a migrated store; without a key; health answers too', async () => {
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready' } });
    expect((await gateway.fetch('/health')).status).toBe(200);
  });

  it('is not ready while a committed migration is not applied, and ready again once it is', async () => {
    const row = db.prepare('SELECT * FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1').get() as Record<string, unknown>;
    db.prepare('DELETE FROM _prisma_migrations WHERE id = ?').run(row.id);
    expect(await ready()).toEqual({ status: 503, body: { status: 'unavailable', reason: '1 migration(s) of the store are not applied' } });
    expect((await gateway.fetch('/health')).status).toBe(200);

    const columns = Object.keys(row);
    db.prepare(`INSERT INTO _prisma_migrations (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(...Object.values(row));
    expect(await ready()).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('is not ready once draining, while requests are still served', async () => {
    const token = await gateway.createKey('acme');
    gateway.app.drain();
    expect(await ready()).toEqual({ status: 503, body: { status: 'unavailable', reason: 'shutting down' } });
    expect((await gateway.fetch('/health')).status).toBe(200);
    const served = await gateway.execute(`{ memories { edges { cursor } } }`, {}, { token });
    expect(served.body).toEqual({ data: { memories: { edges: [] } } });
  });
});
