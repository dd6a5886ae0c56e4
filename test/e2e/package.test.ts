import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keyParts } from '../helpers/keys.js';
import { freePort } from '../helpers/ports.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * The package as a user runs it: a checkout without build output or database, `npm start`, the
 * `memory-gateway` command (what `npx memory-gateway` runs), real HTTP, and a signal to stop.
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));
const BUILD_TIMEOUT = 180_000;

/**
 * What a fresh checkout holds after `npm ci`, without the build. Installing is not under test
 * here: node_modules links this repository's packages, except the package's own command, which
 * is linked to the checkout's bin/ as `npm ci` links it.
 */
function freshCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-checkout-'));
  for (const entry of ['package.json', 'package-lock.json', 'prisma', 'prisma.config.ts', 'src', 'bin', 'scripts', 'tsconfig.json']) {
    cpSync(join(repo, entry), join(dir, entry), {
      recursive: true,
      // Generated code is rebuilt by `npm start`, as in a fresh clone where it does not exist.
      filter: (source) => !source.startsWith(join(repo, 'src', 'generated')),
    });
  }
  const own = JSON.parse(readFileSync(join(repo, 'bin', 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  for (const entry of readdirSync(join(repo, 'node_modules'))) {
    if (entry !== '.bin' && entry !== own.name) symlinkSync(join(repo, 'node_modules', entry), join(modules, entry));
  }
  for (const entry of readdirSync(join(repo, 'node_modules', '.bin'))) {
    if (!(entry in own.bin)) symlinkSync(readlinkSync(join(repo, 'node_modules', '.bin', entry)), join(modules, '.bin', entry));
  }
  symlinkSync('../bin', join(modules, own.name));
  for (const [name, file] of Object.entries(own.bin)) symlinkSync(`../${own.name}/${file}`, join(modules, '.bin', name));
  return dir;
}

/** A user's shell environment: none of the test runner's variables (NODE_ENV=test, VITEST…). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'LANG', 'LC_ALL', 'TERM'];
  const env: NodeJS.ProcessEnv = {};
  for (const name of keep) if (process.env[name] !== undefined) env[name] = process.env[name];
  return { ...env, ...extra };
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `memory-gateway <args>` the way npx does: the package's bin with node, in the checkout. */
function cli(dir: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(dir, 'bin', 'memory-gateway.js'), ...args], { cwd: dir, env: userEnv(env), timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function waitForOutput(child: ChildProcess, output: () => string, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${JSON.stringify(text)}; output so far:\n${output()}`)), timeoutMs);
    const check = () => output().includes(text) && done();
    const onExit = (code: number | null) => done(new Error(`exited (${code}) before ${JSON.stringify(text)}:\n${output()}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/** What `npm run build` prints: npm's banner for the script, Prisma's generator. */
const BUILD_OUTPUT = /> memory-gateway@\S+ build|Generated Prisma Client|prisma generate/;

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start` in its own process group (so a failed run can be cleaned up as a whole). */
function npmStart(dir: string, env: Record<string, string>): Started {
  let output = '';
  const child = spawn('npm', ['start'], { cwd: dir, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

/** Starts the checkout with `npm start`, waits until it listens, stops it with SIGTERM; returns its output. */
async function startAndStop(dir: string): Promise<string> {
  const port = await freePort();
  const started = npmStart(dir, { PORT: String(port) });
  try {
    await waitForOutput(started.child, started.output, `listening on http://127.0.0.1:${port}/graphql`, BUILD_TIMEOUT);
    started.child.kill('SIGTERM');
    expect(await started.exited, started.output()).toEqual({ code: 0, signal: null });
    return started.output();
  } finally {
    if (started.child.exitCode === null && started.child.signalCode === null) process.kill(-started.child.pid!, 'SIGKILL');
  }
}

function buildCheckout(dir: string): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    execFile('npm', ['run', 'build'], { cwd: dir, env: userEnv(), timeout: BUILD_TIMEOUT }, (error, _out, stderr) => (error ? reject(new Error(stderr)) : resolve())),
  );
}

const gql = async (url: string, query: string, variables: Record<string, unknown> = {}, key?: string) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

let dir: string;
let built = false;

/** When a test runs alone, builds the checkout the way `npm start` would have. */
async function ensureBuilt() {
  if (built) return;
  await buildCheckout(dir);
  built = true;
}

beforeAll(() => {
  dir = freshCheckout();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm start on a fresh checkout', () => {
  let server: ChildProcess | undefined;

  afterAll(() => {
    // Only if a test failed half-way: the whole process group this file started.
    if (server?.pid && server.exitCode === null && server.signalCode === null) process.kill(-server.pid, 'SIGKILL');
  });

  it(
    'builds, migrates ./data/, serves GraphQL and GraphiQL, works with a CLI-made key, and stops cleanly on SIGTERM',
    async () => {
      expect(existsSync(join(dir, 'data'))).toBe(false);
      const port = await freePort();
      let output = '';
      // Its own process group, so a failed run can be cleaned up as a whole; the signal under
      // test goes to npm alone, as a process manager sends it.
      server = spawn('npm', ['start'], { cwd: dir, env: userEnv({ PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      server.stdout!.on('data', (chunk) => (output += chunk));
      server.stderr!.on('data', (chunk) => (output += chunk));
      const url = `http://127.0.0.1:${port}/graphql`;
      await waitForOutput(server, () => output, `listening on ${url}`, BUILD_TIMEOUT);
      built = true;

      // The console tells a newcomer how to get a key.
      expect(output).toContain('npx memory-gateway keys create --tenant');

      // The store was created and every committed migration applied, with no other step.
      const db = new Database(join(dir, 'data', 'memory-gateway.db'), { readonly: true });
      const applied = db.prepare('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL').all().map((r: any) => r.migration_name);
      db.close();
      const committed = readdirSync(join(dir, 'prisma', 'migrations'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      expect(applied.sort()).toEqual(committed.sort());

      // GraphiQL for a browser.
      const page = await fetch(url, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/graphiql/i);

      // A key from the CLI, while the server runs.
      const created = await cli(dir, ['keys', 'create', '--tenant', 'acme', '--json']);
      expect(created, created.stderr).toMatchObject({ code: 0 });
      const { key, id } = JSON.parse(created.stdout);

      const written = await gql(url, `mutation { createMemory(input: { userId: "u1", memory: "likes tea" }) { id backend } }`, {}, key);
      expect(written.body.errors).toBeUndefined();
      expect(written.body.data.createMemory.backend).toBe('LOCAL');
      const read = await gql(url, `{ memories(userId: "u1") { edges { node { id memory } } } }`, {}, key);
      expect(read.body).toEqual({ data: { memories: { edges: [{ node: { id: written.body.data.createMemory.id, memory: 'likes tea' } }] } } });

      // Revoked with the CLI: the running server refuses the key from the next request on.
      const revoked = await cli(dir, ['keys', 'revoke', id]);
      expect(revoked, revoked.stderr).toMatchObject({ code: 0 });
      const refused = await gql(url, `{ memories { edges { cursor } } }`, {}, key);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(refused.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');

      const started = Date.now();
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => server!.once('exit', (code, signal) => resolve({ code, signal })));
      server.kill('SIGTERM');
      const result = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 5_000))]);
      expect(result, output).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(5_000);
      // Nothing was left behind listening (e.g. a server orphaned by the npm wrapper).
      await expect(fetch(url)).rejects.toThrow();
      expect(output).toContain('"msg":"stopped"');
    },
    BUILD_TIMEOUT + 60_000,
  );

  it(
    'starts without building when nothing changed since the build, and builds again after a source changed',
    async () => {
      if (!built) await buildCheckout(dir);
      built = true;
      const main = join(dir, 'dist', 'main.bundle.js');
      const builtAt = statSync(main).mtimeMs;
      // What only some configurations need is not part of every start: the OpenTelemetry SDK and
      // prom-client are imported on demand, never by the bundle's own imports.
      expect(readFileSync(main, 'utf8')).not.toMatch(/^import [^;]*from "(@opentelemetry\/[^"]+|prom-client)"/m);

      const unchanged = await startAndStop(dir);
      expect(unchanged).not.toMatch(BUILD_OUTPUT);
      expect(statSync(main).mtimeMs).toBe(builtAt);

      appendFileSync(join(dir, 'src', 'main.ts'), '\n// edited after the build\n');
      const changed = await startAndStop(dir);
      expect(changed).toContain('Sources changed since the last build: building');
      expect(changed).toMatch(BUILD_OUTPUT);
      expect(statSync(main).mtimeMs).toBeGreaterThan(builtAt);
    },
    2 * BUILD_TIMEOUT + 60_000,
  );

  it(
    'reports a bad environment on npm start without building',
    async () => {
      if (!built) await buildCheckout(dir);
      built = true;
      const started = npmStart(dir, { PORT: 'abc', USER_EVENTS_BACKEND: 'nope' });
      const result = await started.exited;
      expect(result.code, started.output()).not.toBe(0);
      expect(started.output()).toMatch(/^Invalid configuration:\n\s+- PORT: .*\n\s+- USER_EVENTS_BACKEND: /m);
      expect(started.output()).not.toMatch(BUILD_OUTPUT);
    },
    BUILD_TIMEOUT,
  );
});

describe('memory-gateway CLI', () => {
  let dbDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    await ensureBuilt();
    dbDir = mkdtempSync(join(tmpdir(), 'memory-gateway-cli-'));
    env = { DATABASE_URL: `file:${join(dbDir, 'cli.db')}` };
  }, BUILD_TIMEOUT);
  afterAll(() => {
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  it('keys create --json prints {key, tenant, id} once, and only a hash of the secret is stored', async () => {
    const res = await cli(dir, ['keys', 'create', '--tenant', 'acme', '--json'], env);
    expect(res, res.stderr).toMatchObject({ code: 0 });
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const issued = JSON.parse(lines[0]!);
    expect(Object.keys(issued).sort()).toEqual(['id', 'key', 'tenant']);
    expect(issued.tenant).toBe('acme');
    expect(issued.key).toMatch(/^mgw_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const { id, secret } = keyParts(issued.key);
    expect(issued.id).toBe(id);

    const db = new Database(env.DATABASE_URL!.slice('file:'.length), { readonly: true });
    const row = db.prepare('SELECT * FROM ApiKey WHERE id = ?').get(id) as Record<string, unknown>;
    db.close();
    expect(row.tenantId).toBe('acme');
    expect(row.secretHash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(secret);
    for (const file of readdirSync(dbDir)) expect(readFileSync(join(dbDir, file)).includes(secret), file).toBe(false);
  });

  it('keys create without --json explains how to use and revoke the key', async () => {
    const res = await cli(dir, ['keys', 'create', '--tenant', 'acme', '--label', 'laptop'], env);
    expect(res.code).toBe(0);
    const key = /mgw_[a-z0-9]{12}_[A-Za-z0-9_-]{43}/.exec(res.stdout)![0];
    expect(res.stdout).toContain(`Authorization: Bearer ${key}`);
    expect(res.stdout).toContain(`npx memory-gateway keys revoke ${key.split('_')[1]}`);
  });

  it('keys create refuses an invalid tenant id with one line and a non-zero exit', async () => {
    const res = await cli(dir, ['keys', 'create', '--tenant', 'not a tenant!'], env);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^error: tenant id/);
  });

  it('keys revoke revokes once; an unknown or already revoked id is a one-line error and a non-zero exit', async () => {
    const { id } = JSON.parse((await cli(dir, ['keys', 'create', '--tenant', 'acme', '--json'], env)).stdout);
    expect(await cli(dir, ['keys', 'revoke', id], env)).toEqual({ code: 0, stdout: `Revoked key ${id}\n`, stderr: '' });
    for (const unknown of [id, 'nosuchkey000']) {
      const res = await cli(dir, ['keys', 'revoke', unknown], env);
      expect(res.code).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr.trim().split('\n')).toEqual([`error: No active key with id ${unknown}`]);
    }
  });

  it('keys list shows ids, tenants, labels and state, never a key or its hash', async () => {
    const a = JSON.parse((await cli(dir, ['keys', 'create', '--tenant', 'acme', '--json', '--label', 'ci'], env)).stdout);
    const b = JSON.parse((await cli(dir, ['keys', 'create', '--tenant', 'globex', '--json'], env)).stdout);
    await cli(dir, ['keys', 'revoke', b.id], env);
    const secrets = [a.key, b.key].map((k: string) => keyParts(k).secret);
    const hashes = secrets.map((s) => createHash('sha256').update(s).digest('hex'));

    const text = await cli(dir, ['keys', 'list'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${a.id}\\s+tenant=acme\\s+active.*"ci"`));
    expect(text.stdout).toMatch(new RegExp(`${b.id}\\s+tenant=globex\\s+revoked`));
    const json = await cli(dir, ['keys', 'list', '--json'], env);
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rows.find((r) => r.id === a.id)).toMatchObject({ tenantId: 'acme', label: 'ci', revokedAt: null });
    expect(rows.find((r) => r.id === b.id)?.revokedAt).toEqual(expect.any(String));
    const onlyGlobex = JSON.parse((await cli(dir, ['keys', 'list', '--tenant', 'globex', '--json'], env)).stdout) as { tenantId: string }[];
    expect(onlyGlobex.map((r) => r.tenantId)).toEqual(['globex']);

    for (const out of [text.stdout, json.stdout, text.stderr, json.stderr]) {
      for (const secret of [...secrets, ...hashes]) expect(out).not.toContain(secret);
      expect(out).not.toMatch(/secret|hash|mgw_/i);
    }
  });

  it("tenants set stores a tenant's workspaces and token issuer; tenants show names them and never a credential", async () => {
    const secretEnv = { ...env, GATEWAY_SECRET: 'e2e-gateway-secret-0123456789abcdef' };
    const set = await cli(
      dir,
      ['tenants', 'set', 'acme', '--memories', 'mielto', '--mielto-api-key', 'mielto-canary-key', '--mielto-workspace-id', 'ws-a', '--mielto-workspaces', 'ws-b,ws-c', '--jwt-issuer', 'https://login.acme.test'],
      secretEnv,
    );
    expect(set.code).toBe(0);
    const show = await cli(dir, ['tenants', 'show', 'acme'], secretEnv);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/mielto\.apiKey, mielto\.workspaceId, mielto\.workspaces/);
    expect(show.stdout).toMatch(/jwt issuer:\s+https:\/\/login\.acme\.test/);
    expect(show.stdout).toMatch(/scopes held:\s+\(none yet/);
    for (const out of [set.stdout, set.stderr, show.stdout, show.stderr]) expect(out).not.toContain('mielto-canary-key');
    const bad = await cli(dir, ['tenants', 'set', 'acme', '--jwt-jwks-url', 'not a url'], secretEnv);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/jwt-jwks-url must be an http\(s\) URL/);

    // A server started with another secret than the settings were sealed with says so and stops.
    const wrongSecret = await new Promise<CliResult>((resolve) =>
      execFile(
        process.execPath,
        [join(dir, 'dist', 'main.bundle.js')],
        { cwd: dir, env: userEnv({ ...env, PORT: '0', GATEWAY_SECRET: 'another-gateway-secret-0123456789abcdef' }), timeout: 30_000 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      ),
    );
    expect(wrongSecret.code).not.toBe(0);
    expect(wrongSecret.stderr).toContain('GATEWAY_SECRET differs from the one the stored tenant settings were sealed with');
  });

  it('a bad environment stops the CLI and the server with one message naming every bad variable', async () => {
    const bad = { ...env, PORT: 'abc', USER_EVENTS_BACKEND: 'nope' };
    const viaCli = await cli(dir, ['keys', 'list'], bad);
    const viaServer = await new Promise<CliResult>((resolve) =>
      execFile(process.execPath, [join(dir, 'dist', 'main.js')], { cwd: dir, env: userEnv(bad), timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      ),
    );
    for (const res of [viaCli, viaServer]) {
      expect(res.code).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr).not.toMatch(/^\s+at /m);
    }
    // The server lists the problems one per line; the CLI, like all its errors, on one.
    expect(viaServer.stderr).toMatch(/^Invalid configuration:\n\s+- PORT: .*\n\s+- USER_EVENTS_BACKEND: /);
    expect(viaCli.stderr).toMatch(/^error: invalid configuration: PORT: [^\n]*; USER_EVENTS_BACKEND: [^\n]*\n$/);
  });

  it('prints every error, usage errors included, as one line on stderr starting with "error:"', async () => {
    const cases = [
      [[], /^error: memory-gateway needs a command \(keys, tenants, receipts\)/],
      [['receipts'], /^error: memory-gateway receipts needs a command \(verify\)/],
      [['receipts', 'verify', 'no-such-receipt.json'], /^error: cannot read the receipt file no-such-receipt\.json$/],
      [['keys'], /^error: memory-gateway keys needs a command \(create, revoke, list\)/],
      [['bogus'], /^error: unknown command 'bogus'/],
      [['keys', 'list', '--jsn'], /^error: unknown option '--jsn' \(Did you mean --json\?\)/],
      [['keys', 'create'], /^error: required option '--tenant <id>' not specified/],
      [['keys', 'revoke'], /^error: missing required argument 'key-id'/],
      [['tenants', 'set', 'acme', '--memories', 'bogus'], /^error: memories must be one of local, mielto \(got "bogus"\)/],
      [['tenants', 'set', 'acme', '--memories', 'bogus', '--user-events', 'nope'], /^error: userEvents must be one of local, memobase \(got "nope"\); memories must be one of/],
      [['tenants', 'show', 'nobody'], /^error: No tenant nobody/],
    ] as const;
    for (const [args, message] of cases) {
      const res = await cli(dir, [...args], env);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stdout, args.join(' ')).toBe('');
      expect(res.stderr.split('\n'), args.join(' ')).toEqual([expect.stringMatching(message), '']);
    }
    // Help is asked for, not an error: stdout and exit 0.
    const help = await cli(dir, ['keys', '--help'], env);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/Usage: memory-gateway keys/);
  });

  it('tenants show names the backend that serves each family and where that choice comes from', async () => {
    const bobEnv = { ...env, MEMORIES_BACKEND: 'mielto' };
    expect(await cli(dir, ['tenants', 'set', 'bob', '--user-memories', 'datagrid'], bobEnv)).toMatchObject({ code: 0 });
    const text = await cli(dir, ['tenants', 'show', 'bob'], bobEnv);
    expect(text.stdout).toMatch(/user events:\s+local \(environment default\)/);
    expect(text.stdout).toMatch(/user memories:\s+datagrid \(tenant setting\)/);
    expect(text.stdout).toMatch(/memories:\s+mielto \(environment default\)/);
    expect(text.stdout).not.toContain('(default)');
    const json = JSON.parse((await cli(dir, ['tenants', 'show', 'bob', '--json'], bobEnv)).stdout);
    expect(json).toMatchObject({
      routing: { userEvents: 'local', userMemories: 'datagrid', memories: 'mielto' },
      routingSource: { userEvents: 'environment', userMemories: 'tenant', memories: 'environment' },
    });
  });

  it('runs as `npx memory-gateway` from the checkout, with nothing to install', async () => {
    const res = await new Promise<CliResult>((resolve) =>
      execFile('npx', ['memory-gateway', 'keys', 'list', '--tenant', 'acme', '--json'], { cwd: dir, env: userEnv(env), timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      ),
    );
    expect(res, res.stderr).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(res.stdout) as { tenantId: string }[]).every((k) => k.tenantId === 'acme')).toBe(true);
  });
});

describe('npm start and the CLI on PostgreSQL', () => {
  let db: TestDatabase;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    // An empty database: the server and the CLI apply the migrations themselves.
    db = await createDatabase(inject('postgresUrl'));
  }, BUILD_TIMEOUT);
  afterAll(async () => {
    if (server?.pid && server.exitCode === null && server.signalCode === null) process.kill(-server.pid, 'SIGKILL');
    await db?.drop();
  });

  it(
    'builds offline with a postgresql:// DATABASE_URL, migrates, serves, and the CLI manages keys and tenants on the same database',
    async () => {
      const databaseUrl = db.url;
      const env = { DATABASE_URL: databaseUrl };

      // The CLI before the server ever ran: it migrates the empty database itself.
      const created = await cli(dir, ['keys', 'create', '--tenant', 'acme', '--json', '--label', 'pg'], env);
      expect(created, created.stderr).toMatchObject({ code: 0 });
      const { key, id } = JSON.parse(created.stdout);
      expect(key).toMatch(/^mgw_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
      const other = JSON.parse((await cli(dir, ['keys', 'create', '--tenant', 'acme', '--json'], env)).stdout);

      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const applied = (await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL')).rows.map((r) => r.migration_name);
        const committed = readdirSync(join(dir, 'prisma', 'postgresql', 'migrations'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
        expect(applied.sort()).toEqual(committed.sort());
        const stored = (await client.query('SELECT "tenantId", "secretHash" FROM "ApiKey" WHERE id = $1', [id])).rows;
        expect(stored).toEqual([{ tenantId: 'acme', secretHash: createHash('sha256').update(keyParts(key).secret).digest('hex') }]);
      } finally {
        await client.end();
      }

      const routed = await cli(dir, ['tenants', 'set', 'acme', '--memories', 'local', '--json'], env);
      expect(routed, routed.stderr).toMatchObject({ code: 0 });
      expect(JSON.parse(routed.stdout)).toMatchObject({ id: 'acme', routing: { memories: 'local' } });
      const shown = JSON.parse((await cli(dir, ['tenants', 'show', 'acme', '--json'], env)).stdout);
      expect(shown).toMatchObject({ id: 'acme', activeKeys: 2 });

      // `npm start` rebuilds with the PostgreSQL URL in its environment: generating the clients
      // must not depend on it (it used to fetch a native engine, which fails offline).
      const port = await freePort();
      let output = '';
      server = spawn('npm', ['start'], { cwd: dir, env: userEnv({ ...env, PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      server.stdout!.on('data', (chunk) => (output += chunk));
      server.stderr!.on('data', (chunk) => (output += chunk));
      const url = `http://127.0.0.1:${port}/graphql`;
      await waitForOutput(server, () => output, `listening on ${url}`, BUILD_TIMEOUT);
      expect(output).not.toContain(databaseUrl);

      const written = await gql(url, `mutation { createMemory(input: { userId: "u1", memory: "likes tea", metadata: { z: 1, a: [2] } }) { id } }`, {}, key);
      expect(written.body.errors).toBeUndefined();
      const read = await gql(url, `{ memories(userId: "u1") { edges { node { id memory metadata backend } } } }`, {}, other.key);
      expect(read.body).toEqual({
        data: { memories: { edges: [{ node: { id: written.body.data.createMemory.id, memory: 'likes tea', metadata: { z: 1, a: [2] }, backend: 'LOCAL' } }] } },
      });

      const listed = JSON.parse((await cli(dir, ['keys', 'list', '--tenant', 'acme', '--json'], env)).stdout) as { id: string; label: string | null }[];
      expect(listed.map((row) => row.id).sort()).toEqual([id, other.id].sort());
      expect(await cli(dir, ['keys', 'revoke', id], env)).toEqual({ code: 0, stdout: `Revoked key ${id}\n`, stderr: '' });
      const refused = await gql(url, `{ memories { edges { cursor } } }`, {}, key);
      expect(refused.status).toBe(401);
      expect(refused.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await gql(url, `{ memories { edges { cursor } } }`, {}, other.key)).status).toBe(200);

      const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
      server.kill('SIGTERM');
      expect(await exited, output).toBe(0);
    },
    BUILD_TIMEOUT + 60_000,
  );
});
