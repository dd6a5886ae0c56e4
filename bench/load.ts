import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/** One HTTP endpoint under load: how to build each request. */
export interface Target {
  name: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A fixed body, or one built per request (deletes need a fresh id each time). */
  body?: string | (() => string);
  /** The serving process, when its CPU time per request is wanted. */
  pid?: number;
}

export interface Sample {
  requests: number;
  seconds: number;
  /** Responses that were not 2xx, plus connection errors and timeouts. */
  failures: number;
  /** Every 2xx response time in milliseconds, at full resolution. */
  latencies: number[];
  /** CPU time the serving process spent meanwhile (when the target names its pid), in ms. */
  cpuMs?: number;
}

/**
 * Runs autocannon against one target for `seconds` (or for `amount` requests). Response times
 * come from autocannon's `response` events, in fractional milliseconds: its own histogram rounds
 * to whole milliseconds, too coarse for the proxy's added latency.
 */
export async function load(target: Target, options: { connections: number; seconds?: number; amount?: number }): Promise<Sample> {
  const latencies: number[] = [];
  let failures = 0;
  const body = target.body;
  const instance = autocannon({
    url: target.url,
    connections: options.connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.seconds ?? 5 }),
    timeout: 30,
    requests: [
      {
        method: target.method ?? 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        ...(typeof body === 'function' ? { setupRequest: (request: autocannon.Request) => ({ ...request, body: body() }) } : { body }),
      },
    ],
    // Without a callback the instance is also a promise of the result (the typings know only one of the two).
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    else failures += 1;
  });
  const cpuBefore = target.pid ? processStats(target.pid).cpuMs : 0;
  const started = process.hrtime.bigint();
  const result = await instance;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuMs = target.pid ? processStats(target.pid).cpuMs - cpuBefore : undefined;
  return { requests: latencies.length, seconds, failures: failures + result.errors + result.timeouts, latencies, cpuMs };
}

export const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
export const median = (values: number[]) => percentile(values, 50);
export const rate = (s: Sample) => s.requests / s.seconds;

export interface Comparison {
  samples: Record<string, Sample[]>;
}

/**
 * Measures every target in turn, `rounds` times, so that whatever else the machine does at a
 * given moment falls on all of them alike; the ratios are taken per round.
 */
export async function interleaved(targets: Target[], options: { rounds: number; seconds: number; connections: number }): Promise<Comparison> {
  const samples: Record<string, Sample[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    // Alternating order: neither side is always the one that runs right after the other.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) samples[target.name]!.push(await load(target, options));
  }
  return { samples };
}

/** Per-round throughput ratios of `a` to `b`: median, min, max. */
export function ratios(c: Comparison, a: string, b: string) {
  const values = c.samples[a]!.map((s, i) => rate(s) / rate(c.samples[b]![i]!));
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export const all = (samples: Sample[]): Sample => ({
  requests: samples.reduce((n, s) => n + s.requests, 0),
  seconds: samples.reduce((n, s) => n + s.seconds, 0),
  failures: samples.reduce((n, s) => n + s.failures, 0),
  latencies: samples.flatMap((s) => s.latencies),
  cpuMs: samples.every((s) => s.cpuMs !== undefined) ? samples.reduce((n, s) => n + s.cpuMs!, 0) : undefined,
});

/** CPU time (user + system, ms) and resident memory (MB) of a process, read from /proc (Linux). */
export function processStats(pid: number): { cpuMs: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: ticks * 10, rssMb: Number(rss?.[1] ?? NaN) / 1024 };
}

/** The environment and flags `npm start` gives Node (package.json's `start` script), so that the bench runs the same process. */
function startCommand(): { env: Record<string, string>; flags: string[] } {
  const { scripts } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const [assignments = '', command = ''] = scripts.start.split(/\bexec\b/);
  return {
    env: Object.fromEntries([...assignments.matchAll(/([A-Z_]+)=(\S+)/g)].map((match) => [match[1]!, match[2]!])),
    flags: [...command.matchAll(/\s(--[\w-]+(?:=\S+)?)/g)].map((match) => match[1]!),
  };
}

export interface GatewayProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * The gateway as production runs it: the bundle `npm start` runs (dist/main.bundle.js), in a
 * process of its own, so its CPU time and memory are its own. `env` is its whole environment.
 */
export async function startGatewayProcess(entry: string, env: Record<string, string>, port: number): Promise<GatewayProcess> {
  const start = startCommand();
  const child: ChildProcess = spawn(process.execPath, [...start.flags, entry], { env: { ...start.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited (${child.exitCode}):\n${stderr}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the gateway did not answer /health within 60 s:\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `${url}/graphql`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
