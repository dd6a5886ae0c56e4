import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createPrisma } from '../../src/db.js';
import { startMieltoFake, type MieltoFake } from '../fakes/mielto.js';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/upstream.js';

/**
 * The gateway as a process manager runs it: a real `node` process (the sources through tsx, so
 * no build is needed), a provider that answers slowly, and SIGTERM while a proxied call waits on
 * it. Readiness must drop at once, the call must still complete, and the process must exit 0.
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));
const MIELTO_KEY = 'mielto-key-shutdown';
const SLOW_MS = 2500;

describe('readiness, metrics listener and drain of a running gateway', () => {
  let dir: string;
  let mielto: MieltoFake;
  let child: ChildProcess | undefined;
  let output = '';
  let key: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'memory-gateway-shutdown-'));
    const file = join(dir, 'gateway.db');
    copyFileSync(inject('templateDatabase'), file);
    const prisma = await createPrisma({ databaseUrl: `file:${file}` });
    key = (await createApiKey(prisma, 'acme')).key;
    await prisma.$disconnect();
    mielto = await startMieltoFake({ apiKeys: [MIELTO_KEY] });
    mielto.seedMemory(MIELTO_KEY, { user_id: 'u1', memory: 'likes tea' });
  });

  afterAll(async () => {
    // Only if a test failed half-way.
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await mielto?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('turns /ready to 503 on SIGTERM, finishes the call waiting on a slow provider, then exits 0', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: repo,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        DATABASE_URL: `file:${join(dir, 'gateway.db')}`,
        MEMORIES_BACKEND: 'mielto',
        MIELTO_URL: mielto.url,
        MIELTO_API_KEY: MIELTO_KEY,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(() => output.includes(`listening on ${base}/graphql`), 60_000).catch(() => {
      throw new Error(`the gateway did not start:\n${output}`);
    });

    const list = () =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ memories(userId: "u1") { edges { node { memory } } } }' }),
      });

    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    // Metrics: on their own port, never on the public one.
    expect((await list()).status).toBe(200);
    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    const metrics = await scrape.text();
    expect(metrics).toContain('memory_gateway_requests_total{operation="memories",code="OK"} 1');
    expect(metrics).toContain('memory_gateway_upstream_requests_total{provider="mielto",outcome="2xx"} 1');
    expect(metrics).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);

    // A proxied call that waits on the provider…
    mielto.requests.length = 0;
    mielto.slow({ delayMs: SLOW_MS });
    const slow = list();
    await waitUntil(() => mielto.requests.length === 1, 10_000);

    // …then SIGTERM: not ready from the first answer after the signal on.
    child.kill('SIGTERM');
    await waitUntil(() => output.includes('shutting down'), 5_000);
    const draining = await fetch(`${base}/ready`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'unavailable', reason: 'shutting down' });
    // Still alive (liveness), and telling clients to reconnect elsewhere.
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('connection')).toBe('close');

    // The call in flight completes with its data.
    const answered = await slow;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ data: { memories: { edges: [{ node: { memory: 'likes tea' } }] } } });

    expect(await exited).toEqual({ code: 0, signal: null });
    const lines = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l).msg);
    expect(lines.indexOf('stopped')).toBeGreaterThan(lines.indexOf('shutting down: not ready; finishing the requests in flight'));
    await expect(fetch(`${base}/health`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  }, 120_000);
});
