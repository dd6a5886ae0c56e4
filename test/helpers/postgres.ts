import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

/**
 * A real PostgreSQL server for the tests: a new cluster in a temporary directory, listening on
 * a free loopback port, gone when destroyed. Nothing is skipped when PostgreSQL is missing: the
 * tests fail and say how to install it (CI installs it in .ci/run).
 */
export interface PostgresServer {
  readonly port: number;
  /** URL of a database on this server as the superuser `postgres` (trust authentication). */
  url(database?: string): string;
  /** Stops the server (fast shutdown: connections are closed); the data stays. */
  stop(): Promise<void>;
  /** Starts a stopped server again on the same port. */
  start(): Promise<void>;
  /** Freezes the server and its backends (SIGSTOP): connections stay open and nothing answers, like a lost network. */
  freeze(): void;
  thaw(): void;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

const CANDIDATE_BIN_DIRS = ['17', '16', '15'].map((version) => `/usr/lib/postgresql/${version}/bin`);

function binDir(): string {
  const found = CANDIDATE_BIN_DIRS.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')));
  if (found) return found;
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      `PostgreSQL server binaries not found (looked in ${CANDIDATE_BIN_DIRS.join(', ')} and pg_config). ` +
        'Install them, e.g. `apt-get install postgresql` on Debian; .ci/run does this in CI.',
    );
  }
}

/** initdb and postgres refuse to run as root: as root, they run as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('Running as root, PostgreSQL needs the `postgres` system user (the Debian `postgresql` package creates it)');
  }
}

/**
 * The processes a PostgreSQL server started (one backend per connection, plus its workers). Each
 * calls setsid(), so they are found by parent pid rather than by process group.
 */
function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name, which is in parentheses and may contain spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // Exited while listing.
    }
  }
  return children;
}

/** Resolves when `text` appears in the output; rejects if the process exits first or time runs out. */
function waitForLog(child: ChildProcess, output: () => string, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`PostgreSQL did not report ${JSON.stringify(text)} in ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    const check = () => output().includes(text) && done();
    const onExit = (code: number | null) => done(new Error(`PostgreSQL exited (${code}):\n${output()}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'memory-gateway-pg-'));
  const data = join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C'], {
    ...user,
    stdio: 'pipe',
  });

  let port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  const signalAll = (signal: NodeJS.Signals) => {
    if (!child?.pid) return;
    for (const pid of [child.pid, ...childrenOf(child.pid)]) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone in the meantime.
      }
    }
  };
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const launch = async () => {
    output = '';
    child = spawn(
      join(bin, 'postgres'),
      [
        '-D', data,
        '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        // Test data need not survive a power cut.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'max_connections=300',
      ],
      { ...user, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (chunk) => (output += chunk));
    await waitForLog(child, () => output, 'database system is ready to accept connections', 60_000);
  };

  const stopped = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => proc.once('exit', () => resolve()));

  try {
    await launch();
  } catch (error) {
    // Another process may have taken the port between probing and binding: one more try.
    if (!/could not (bind|create listen socket)/i.test(output)) throw error;
    port = await freePort();
    await launch();
  }

  const server: PostgresServer = {
    get port() {
      return port;
    },
    url: (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async stop() {
      const proc = child;
      if (!proc) return;
      signalAll('SIGCONT');
      child = undefined;
      // SIGINT is PostgreSQL's fast shutdown: open connections are closed, the data is kept.
      proc.kill('SIGINT');
      await stopped(proc);
    },
    async start() {
      if (child) return;
      await launch();
    },
    freeze() {
      signalAll('SIGSTOP');
    },
    thaw() {
      signalAll('SIGCONT');
    },
    async destroy() {
      await server.stop();
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Runs one statement as the superuser on the server's `postgres` database. */
export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A new database for one test, copied from `template` (a database every migration has been
 * applied to), so each test starts from the migrated schema without running the migrations.
 */
export async function createDatabase(adminUrl: string, template?: string): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(adminUrl, `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
      break;
    } catch (error) {
      // A template in use by another copy being made at the same moment; it is brief.
      if (attempt >= 10 || !/is being accessed by other users/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}
