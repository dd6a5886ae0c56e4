import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

/**
 * Real gateway processes and CLI runs, from the sources (through tsx), with an environment of
 * the test's choosing and nothing inherited but PATH and HOME: what an operator runs, minus the
 * build step.
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));

const BASE_ENV = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
};

export interface GatewayProcess {
  /** http://127.0.0.1:<port> */
  readonly base: string;
  /** The GraphQL endpoint. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  /** One JSON log line per element (lines that are not JSON are left out). */
  logs(): Record<string, any>[];
  /** SIGTERM, and waits for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL, the way a crash ends it, and waits until it is gone. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** SIGKILLs every gateway process still running (a test's clean-up after a failure half-way). */
export async function killGatewayProcesses(): Promise<void> {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map(exited));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts `src/main.ts` on a free loopback port and resolves once it reports listening. */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repo,
    env: { ...BASE_ENV, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const base = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`the gateway did not start within 90 s:\n${output}`)), 90_000);
    const check = () => output.includes(`listening on ${base}/graphql`) || output.includes(`"url":"${base}/graphql"`) ? done() : undefined;
    const onExit = (code: number | null) => done(new Error(`the gateway exited (${code}) before listening:\n${output}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', onExit);
      if (error) {
        child.kill('SIGKILL');
        reject(error);
      } else resolve();
    }
    child.stdout!.on('data', check);
    child.once('exit', onExit);
  });
  return {
    base,
    url: `${base}/graphql`,
    child,
    output: () => output,
    logs: () =>
      output.split('\n').flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, any>];
        } catch {
          return [];
        }
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill('SIGTERM');
      await exited(child);
      clearTimeout(kill);
    },
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npx memory-gateway <args>` as an operator runs it, from the sources. */
export function runCliProcess(args: string[], env: Record<string, string>): Promise<CliResult> {
  const entry = `import { runCli } from './src/cli.ts'; process.exitCode = await runCli(['node', 'memory-gateway', ...JSON.parse(process.env.CLI_ARGS)]);`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', entry],
      { cwd: repo, env: { ...BASE_ENV, ...env, CLI_ARGS: JSON.stringify(args) }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Sends one GraphQL request as a client does; returns the HTTP status and the parsed body. */
export async function postGraphQL(
  url: string,
  key: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; headers: Headers; body: { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] } }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}
