import { createInterface } from 'node:readline';
import { createEventBus, type BusTopics } from '../../src/bus.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';

/**
 * Another instance's event bus, in a process of its own (REDIS_URL from its environment),
 * driven over stdio by test/bus.test.ts: each JSON line `{topic, payload}` read from stdin is
 * published; every event heard is written as `{event, payload}`, and `{shared}` whenever
 * bus.shared() changes.
 */
const config = loadConfig();
const bus = createEventBus(config, createLogger({ logLevel: 'silent' }));
const write = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

for (const topic of ['cache:invalidate', 'bus:resync'] as const) {
  void (async () => {
    for await (const payload of bus.pubsub.subscribe(topic)) write({ event: topic, payload });
  })();
}

let shared: boolean | undefined;
const watch = setInterval(() => {
  if (bus.shared() === shared) return;
  shared = bus.shared();
  write({ shared });
}, 50);

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const { topic, payload } = JSON.parse(line) as { topic: keyof BusTopics; payload: never };
    bus.pubsub.publish(topic, payload);
  })
  .on('close', () => {
    clearInterval(watch);
    void bus.close().then(() => process.exit(0));
  });
