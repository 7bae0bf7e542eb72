import type { Client } from '@temporalio/client';
import { Gauge, type Registry } from 'prom-client';
import type { BreakerState, ShardSet } from '../db/shards';

/**
 * The databases' health as Prometheus sees it (infra/README.md "Metrics"; the answers, docs/api.md):
 * - wallet_store_breaker_state{store}: this process's circuit breaker of each database (db/shards.ts),
 *   API and worker alike, since each process has breakers of its own;
 * - wallet_sagas_waiting_for_store{store}: the transfer sagas waiting on a durable timer for a database
 *   to come back. A fact of the whole cluster, asked of Temporal's visibility store: the API serves it
 *   (every instance shows the same value, like the reconciliation gauges), the workers do not.
 */

/** 0 closed (statements flow), 1 half-open (one statement let through to test it), 2 open (all fail at once). */
export const BREAKER_STATE_VALUES: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export function storeBreakerGauge(registry: Registry, shards: () => ShardSet | undefined) {
  return new Gauge({
    name: 'wallet_store_breaker_state',
    help: "This process's circuit breaker of each database: 0 closed, 1 half-open, 2 open (requests that need it fail at once)",
    labelNames: ['store'] as const,
    registers: [registry],
    collect() {
      for (const db of shards()?.all ?? []) this.set({ store: db.name }, BREAKER_STATE_VALUES[db.breakerState()]);
    },
  });
}

/**
 * The keyword search attribute a saga step sets, while it waits for a database, to that database's name
 * (and clears when it goes on). Its definition belongs to workflows/contract.ts (the saga's); named here
 * by its string so this gauge does not depend on the workflow code.
 */
export const WAITING_ON_STORE_ATTRIBUTE = 'WaitingOnStore';

/** A scrape never waits long on Temporal: past this the gauge keeps its last values. */
const COUNT_DEADLINE_MS = 1000;

export function sagasWaitingGauge(
  registry: Registry,
  opts: {
    shards: () => ShardSet | undefined;
    temporal: () => Client | undefined;
    /** how long one set of counts is reused by the next scrapes */
    cacheMs: number;
    onError?: (err: unknown) => void;
  },
) {
  let cached: { at: number; counts: Map<string, number> } | undefined;
  let inFlight: Promise<Map<string, number> | undefined> | undefined;

  async function countAll(): Promise<Map<string, number> | undefined> {
    const client = opts.temporal();
    const stores = opts.shards()?.all.map((db) => db.name) ?? [];
    if (!client || stores.length === 0) return cached?.counts;
    // only transfer sagas set the attribute; the stored value is the database's name (db-1, accounting)
    const counts = await Promise.all(
      stores.map(async (store) => {
        const query = `${WAITING_ON_STORE_ATTRIBUTE} = "${store}" AND ExecutionStatus = "Running"`;
        const { count } = await client.withDeadline(Date.now() + COUNT_DEADLINE_MS, () => client.workflow.count(query));
        return [store, count] as const;
      }),
    );
    cached = { at: Date.now(), counts: new Map(counts) };
    return cached.counts;
  }

  return new Gauge({
    name: 'wallet_sagas_waiting_for_store',
    help: 'Running transfer sagas waiting for a database to come back (search attribute WaitingOnStore), by database; cached for a few seconds',
    labelNames: ['store'] as const,
    registers: [registry],
    async collect() {
      if (!(cached && Date.now() - cached.at < opts.cacheMs)) {
        // the same scrape, or two at once, count once
        inFlight ??= countAll()
          .catch((err: unknown) => {
            // keep the last values: a scrape must not fail because Temporal is slow or down
            opts.onError?.(err);
            return cached?.counts;
          })
          .finally(() => (inFlight = undefined));
        await inFlight;
      }
      for (const [store, count] of cached?.counts ?? []) this.set({ store }, count);
    },
  });
}
