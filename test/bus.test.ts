import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventBus, type BusTopics, type EventBus } from '../src/bus.js';
import { createLogger } from '../src/logger.js';
import { createRedisClient, redisReachable } from '../src/redis.js';
import { dataOf, startGateway } from './helpers/gateway.js';
import { startRedis, type RedisServer } from './helpers/redis.js';

/** Polls until `check` holds; fails naming `what` if it never does (a liveness bound, not a speed one). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A logger whose JSON lines are kept for assertions. */
function capturedLogger() {
  const lines: { level: number; msg: string; role?: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ logLevel: 'info' }, sink), lines };
}

/** Everything `bus` delivers on `topic` to this instance, in order. */
function heard<T extends keyof BusTopics>(bus: EventBus, topic: T): BusTopics[T][0][] {
  const events: BusTopics[T][0][] = [];
  void (async () => {
    const subscribe = bus.pubsub.subscribe as (topic: keyof BusTopics) => AsyncIterable<unknown>;
    for await (const payload of subscribe(topic)) events.push(payload as BusTopics[T][0]);
  })();
  return events;
}

/** The bus of a second instance, in its own process (test/helpers/bus-peer.ts). */
function startPeer(redisUrl: string) {
  const script = fileURLToPath(new URL('./helpers/bus-peer.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { PATH: process.env.PATH, REDIS_URL: redisUrl },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let output = '';
  let buffered = '';
  child.stdout!.on('data', (chunk) => {
    buffered += chunk;
    const complete = buffered.split('\n');
    buffered = complete.pop()!;
    for (const line of complete.filter(Boolean)) lines.push(JSON.parse(line));
  });
  child.stderr!.on('data', (chunk) => (output += chunk));
  return {
    lines,
    output: () => output,
    shared: () => lines.filter((line) => 'shared' in line).at(-1)?.shared === true,
    events: (topic: keyof BusTopics) => lines.filter((line) => line.event === topic).map((line) => line.payload),
    publish: (topic: keyof BusTopics, payload: unknown) => child.stdin!.write(`${JSON.stringify({ topic, payload })}\n`),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

describe('event bus without REDIS_URL', () => {
  it('delivers to this instance only, and says it is not shared', async () => {
    const bus = createEventBus({}, createLogger({ logLevel: 'silent' }));
    const events = heard(bus, 'cache:invalidate');
    await new Promise((resolve) => setImmediate(resolve));
    bus.pubsub.publish('cache:invalidate', { kind: 'api-key', id: 'k1' });
    await until('the local event', () => events.length === 1);
    expect(events).toEqual([{ kind: 'api-key', id: 'k1' }]);
    expect(bus.shared()).toBe(false);
    await bus.close();
  });
});

describe('event bus across two processes on one Redis', () => {
  let redis: RedisServer;
  let bus: EventBus;
  let log: ReturnType<typeof capturedLogger>;
  let peer: ReturnType<typeof startPeer>;

  beforeAll(async () => {
    redis = await startRedis();
    log = capturedLogger();
    bus = createEventBus({ redisUrl: redis.url }, log.logger);
    peer = startPeer(redis.url);
    await until('both instances on Redis', () => bus.shared() && peer.shared(), 30_000);
  }, 60_000);
  afterAll(async () => {
    await peer?.stop();
    await bus?.close();
    await redis?.destroy();
  });

  it('an event published on either instance reaches the other, and its own listeners, exactly once', async () => {
    const here = heard(bus, 'cache:invalidate');
    // The subscription is registered when the iterator first runs.
    await new Promise((resolve) => setImmediate(resolve));

    bus.pubsub.publish('cache:invalidate', { kind: 'api-key', id: 'from-here' });
    await until('the peer hears it', () => peer.events('cache:invalidate').length === 1);
    peer.publish('cache:invalidate', { kind: 'tenant', id: 'from-there' });
    await until('this instance hears the peer', () => here.length === 2);

    // One more round trip, so a duplicate delivery would have arrived by now.
    peer.publish('cache:invalidate', { kind: 'tenant', id: 'marker' });
    await until('the marker', () => here.some((e) => e.id === 'marker'));
    expect(here).toEqual([
      { kind: 'api-key', id: 'from-here' },
      { kind: 'tenant', id: 'from-there' },
      { kind: 'tenant', id: 'marker' },
    ]);
    expect(peer.events('cache:invalidate')).toEqual([{ kind: 'api-key', id: 'from-here' }, { kind: 'tenant', id: 'from-there' }, { kind: 'tenant', id: 'marker' }]);
  });

  it('survives Redis stopping: each instance keeps its own events, says so once, and is shared again by itself when Redis is back', async () => {
    const here = heard(bus, 'cache:invalidate');
    const resyncs = heard(bus, 'bus:resync');
    await new Promise((resolve) => setImmediate(resolve));
    const warningsBefore = log.lines.filter((line) => line.level === 40).length;

    await redis.stop();
    await until('the bus notices', () => !bus.shared() && !peer.shared());
    // Several reconnection attempts fail meanwhile; the log says it once.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    bus.pubsub.publish('cache:invalidate', { kind: 'api-key', id: 'during-outage' });
    await until('the local event during the outage', () => here.length === 1);
    expect(here).toEqual([{ kind: 'api-key', id: 'during-outage' }]);
    const warnings = log.lines.filter((line) => line.level === 40).slice(warningsBefore);
    expect(warnings).toEqual([expect.objectContaining({ role: 'bus', msg: expect.stringMatching(/^Redis unreachable/) })]);

    await redis.start();
    await until('both instances back on Redis', () => bus.shared() && peer.shared(), 30_000);
    // Events of the outage may have been missed: both instances are told to resynchronise.
    await until('a resync here', () => resyncs.length === 1);
    await until('a resync there', () => peer.events('bus:resync').length === 1);
    expect(log.lines.filter((line) => line.msg === 'Redis reachable again')).toHaveLength(1);

    bus.pubsub.publish('cache:invalidate', { kind: 'api-key', id: 'after-outage' });
    await until('the peer hears the event after the outage', () => peer.events('cache:invalidate').some((e: any) => e.id === 'after-outage'));
    peer.publish('cache:invalidate', { kind: 'tenant', id: 'peer-after-outage' });
    await until('this instance hears the peer after the outage', () => here.some((e) => e.id === 'peer-after-outage'));
  }, 90_000);
});

describe('createRedisClient (shared by the bus and the rate limiter)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => redis?.destroy());

  it('is not created without REDIS_URL', () => {
    expect(createRedisClient({}, { role: 'rate-limit' })).toBeUndefined();
  });

  it('fails commands at once while Redis is away instead of queueing them, and works again when it is back', async () => {
    const { logger, lines } = capturedLogger();
    const client = createRedisClient({ redisUrl: redis.url }, { role: 'rate-limit', logger })!;
    try {
      await until('connected', () => redisReachable(client));
      expect(await client.incr('hits')).toBe(1);
      await redis.stop();
      await until('disconnected', () => !redisReachable(client));
      await expect(client.incr('hits')).rejects.toThrow();
      await redis.start();
      await until('reconnected', () => redisReachable(client), 30_000);
      // A fresh server (nothing is persisted): the count starts again.
      expect(await client.incr('hits')).toBe(1);
      expect(lines.map((line) => line.msg)).toEqual([expect.stringMatching(/^Redis unreachable/), 'Redis reachable again']);
      expect(JSON.stringify(lines)).not.toContain(redis.url);
    } finally {
      client.disconnect();
    }
  }, 60_000);

  it('a gateway with REDIS_URL starts and serves while Redis is down, and says so once per connection', async () => {
    await redis.stop();
    const gateway = await startGateway({ REDIS_URL: redis.url });
    try {
      const token = await gateway.createKey('acme');
      for (let i = 0; i < 3; i++) {
        dataOf(await gateway.execute(`mutation { createMemory(input: { userId: "u1", memory: "m${i}" }) { id } }`, {}, { token }));
      }
      await until('a reconnection attempt failed', () => gateway.logs.some((line) => line.includes('Redis unreachable')));
      // The bus and the rate limiter each have a connection; each says so once.
      const roles = gateway.logs.filter((line) => line.includes('Redis unreachable')).map((line) => JSON.parse(line).role);
      expect(roles.sort()).toEqual(['bus', 'rate-limit']);
      expect(gateway.app.bus.shared()).toBe(false);
    } finally {
      await gateway.close();
      await redis.start();
    }
  });
});
