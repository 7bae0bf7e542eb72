import { Gauge, type Registry } from 'prom-client';
import type { Store } from '../db/store';
import { DISCREPANCY_KINDS } from '../domain/reconciliation/results';
import { latestFinishedRun } from '../domain/reconciliation/runs';

type Latest = Awaited<ReturnType<typeof latestFinishedRun>>;

/** A scrape never waits long for a slow database: the gauges keep their last values instead. */
const QUERY_TIMEOUT_MS = 2000;

/**
 * The reconciliation gauges, served by the API from the latest finished run in the database: every API
 * instance shows the same values, and they survive worker restarts. Read at scrape time, cached for
 * `cacheMs`; a failed read keeps the last values (a scrape never fails because Postgres is slow).
 */
export function reconciliationGauges(
  registry: Registry,
  opts: { db: () => Store | undefined; cacheMs: number; onError?: (err: unknown) => void },
) {
  let cached: { at: number; value: Latest } | undefined;
  let inFlight: Promise<Latest | undefined> | undefined;
  async function latest(): Promise<Latest | undefined> {
    if (cached && Date.now() - cached.at < opts.cacheMs) return cached.value;
    const store = opts.db();
    if (!store?.connected) return cached?.value;
    // both gauges collect in the same scrape: one query
    // statement_timeout, not a timer race: Postgres cancels the read and frees its connection
    inFlight ??= latestFinishedRun(store, { timeoutMs: QUERY_TIMEOUT_MS })
      .then((value) => {
        cached = { at: Date.now(), value };
        return value;
      })
      .catch((err: unknown) => {
        opts.onError?.(err);
        return cached?.value;
      })
      .finally(() => (inFlight = undefined));
    return inFlight;
  }
  return {
    discrepancies: new Gauge({
      name: 'reconciliation_discrepancies',
      help: 'Discrepancies the latest finished reconciliation run found, by kind (0 for every kind it did not find)',
      labelNames: ['kind'] as const,
      registers: [registry],
      async collect() {
        const run = await latest();
        if (run === undefined) return;
        for (const kind of DISCREPANCY_KINDS) this.set({ kind }, run?.discrepancyCounts[kind] ?? 0);
      },
    }),
    lastSuccess: new Gauge({
      name: 'reconciliation_last_success_timestamp_seconds',
      help: 'Unix time at which the latest reconciliation run finished (0: none yet)',
      registers: [registry],
      async collect() {
        const run = await latest();
        if (run === undefined) return;
        this.set(run ? run.finishedAt.getTime() / 1000 : 0);
      },
    }),
  };
}
