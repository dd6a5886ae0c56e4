import type { PrismaClient } from './db.js';
import { appliedMigrations, committedMigrations } from './migrate.js';

export type ReadinessState = { ready: true } | { ready: false; reason: string };

/** What `GET /ready` reports (CONTRACT § Operations). */
export interface Readiness {
  /** The process is shutting down: from now on it is not ready, whatever the store says. */
  drain(): void;
  check(): Promise<ReadinessState>;
}

/**
 * Ready when the store answers within `timeoutMs` and has applied every committed migration;
 * not ready once draining. A load balancer polls this, so it costs two small queries and never
 * waits longer than the timeout, whatever state the store is in.
 */
export function createReadiness(prisma: PrismaClient, databaseUrl: string, { timeoutMs = 3000 }: { timeoutMs?: number } = {}): Readiness {
  const committed = committedMigrations(databaseUrl);
  let draining = false;

  async function storeState(): Promise<ReadinessState> {
    try {
      await prisma.$queryRawUnsafe('SELECT 1');
    } catch {
      return { ready: false, reason: 'the store does not answer' };
    }
    const applied = await appliedMigrations(prisma);
    const pending = committed.filter((name) => !applied.has(name));
    return pending.length ? { ready: false, reason: `${pending.length} migration(s) of the store are not applied` } : { ready: true };
  }

  return {
    drain() {
      draining = true;
    },
    async check() {
      if (draining) return { ready: false, reason: 'shutting down' };
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<ReadinessState>((resolve) => {
        timer = setTimeout(() => resolve({ ready: false, reason: `the store did not answer within ${timeoutMs} ms` }), timeoutMs);
      });
      try {
        const state = await Promise.race([storeState(), timedOut]);
        // Draining may have begun while the store was asked.
        return draining ? { ready: false, reason: 'shutting down' } : state;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
