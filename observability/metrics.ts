import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../db/store';
import { countNeedsAttention } from '../domain/transfers/records';
import { reconciliationGauges } from './reconciliation-metrics';

/**
 * Our Prometheus metrics (prom-client). The names, kinds and labels are the contract that
 * infra/prometheus/alerts.yml and infra/grafana/dashboards/wallet.json are written against
 * (test/infra/metrics-contract.ts; test/observability/metrics.test.ts checks what the processes expose).
 *
 * Every API app and every worker gets a Registry of its own (never prom-client's global one), so
 * several apps or workers in one process (the tests) do not collide. The prom-client process
 * metrics (CPU, memory, event loop, GC) describe the process, not an app: they are collected once
 * per process into `processRegistry` and appended to every /metrics answer.
 */

/** Seconds; up to 30 because `Prefer: wait=N` (N <= 30) legitimately holds a transfer request. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A saga takes well under a second when nothing fails, up to the park deadline (days) when it parks. */
const TRANSFER_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400, 259200];

let processRegistry: Registry | undefined;

/** prom-client's default metrics of this process (process_*, nodejs_*), collected once. */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The Prometheus text of `registry` followed by the process metrics. */
export async function renderMetrics(registry: Registry): Promise<string> {
  const [own, proc] = await Promise.all([registry.metrics(), processMetrics().metrics()]);
  return `${own.trimEnd()}\n${proc}`;
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Every database's Store of this process (wallet shards, the accounting book): each has its own pool. */
export type StoresOf = () => readonly Store[];

function dbPoolWaitingGauge(registry: Registry, stores: StoresOf) {
  return new Gauge({
    name: 'db_connection_pool_waiting',
    help: "Callers waiting for a Postgres connection from this process's pools (DB_POOL_MAX each), summed over its databases",
    registers: [registry],
    collect() {
      this.set(stores().reduce((sum, store) => sum + (store.connected ? store.poolStats().waiting : 0), 0));
    },
  });
}

function transactionCounters(registry: Registry) {
  return {
    transactions: new Counter({
      name: 'transactions_total',
      help: 'Ledger transactions posted by this process, by type (deposit | transfer)',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    transactionsAmount: new Counter({
      name: 'transactions_amount_total',
      help: 'Money moved by the posted ledger transactions, in minor units of the currency (integer amounts, as everywhere)',
      labelNames: ['currency'] as const,
      registers: [registry],
    }),
  };
}

export type TransactionType = 'deposit' | 'transfer';

function recordTransaction(
  counters: ReturnType<typeof transactionCounters>,
  type: TransactionType,
  currency: string,
  amountMinor: bigint,
): void {
  counters.transactions.inc({ type });
  // amounts are capped at MAX_AMOUNT_MINOR <= 2^53 - 1: exact as a number
  counters.transactionsAmount.inc({ currency }, Number(amountMinor));
}

// ------------------------------------------------------------------------------------------ API

export interface ApiMetricsOptions {
  /** Database 0's Store, read at scrape time (the reconciliation gauges: service-wide tables). */
  db: () => Store | undefined;
  /** Every database's Store (pool gauge); the NEEDS_ATTENTION count sums the wallet databases'. */
  stores: StoresOf;
  walletStores: StoresOf;
  /** How long a NEEDS_ATTENTION count is reused before the next scrape queries again. */
  needsAttentionCacheMs?: number;
  /** Called when the NEEDS_ATTENTION count cannot be read (the gauge keeps its last value). */
  onCollectError?: (err: unknown) => void;
}

const NEEDS_ATTENTION_QUERY_TIMEOUT_MS = 2000;

export function createApiMetrics(opts: ApiMetricsOptions) {
  const registry = new Registry();
  const cacheMs = opts.needsAttentionCacheMs ?? 5000;
  let needsAttention: { value: number; at: number } | undefined;
  // the last count each wallet database gave: one that cannot answer keeps its share in the sum
  const lastCounts = new Map<Store, number>();

  const counters = transactionCounters(registry);
  counters.transactions.inc({ type: 'deposit' }, 0);
  const metrics = {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'API request duration by route pattern, method and status code',
      labelNames: ['route', 'method', 'status_code'] as const,
      buckets: HTTP_BUCKETS,
      registers: [registry],
    }),
    idempotentReplays: new Counter({
      name: 'idempotent_replays_total',
      help: 'Requests answered as a replay of an earlier one with the same Idempotency-Key',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'rate_limited_total',
      help: 'Requests refused with 429 Too Many Requests',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
    rateLimitStoreErrors: new Counter({
      name: 'rate_limit_store_errors_total',
      help: 'Rate-limit checks Redis did not answer (error, timeout, or not asked during an outage): counted in this process instead',
      registers: [registry],
    }),
    ...counters,
    // before the NEEDS_ATTENTION gauge, whose query would otherwise sit in the pool's queue at this instant
    dbPoolWaiting: dbPoolWaitingGauge(registry, opts.stores),
    needsAttention: new Gauge({
      name: 'transfers_needs_attention',
      help: 'Transfers parked in NEEDS_ATTENTION right now (all of them, summed over the wallet databases; cached for a few seconds)',
      registers: [registry],
      async collect() {
        if (needsAttention && Date.now() - needsAttention.at < cacheMs) {
          this.set(needsAttention.value);
          return;
        }
        const stores = opts.walletStores().filter((store) => store.connected);
        if (stores.length === 0) return;
        await Promise.all(
          stores.map(async (store) => {
            try {
              // statement_timeout, not a timer race: Postgres cancels the count and frees its connection
              lastCounts.set(store, await countNeedsAttention(store, { timeoutMs: NEEDS_ATTENTION_QUERY_TIMEOUT_MS }));
            } catch (err) {
              // keep that database's last count: a scrape must not fail because one database is slow or down
              opts.onCollectError?.(err);
            }
          }),
        );
        const value = [...lastCounts.values()].reduce((sum, n) => sum + n, 0);
        needsAttention = { value, at: Date.now() };
        this.set(value);
      },
    }),
    reconciliation: reconciliationGauges(registry, { db: opts.db, cacheMs, onError: opts.onCollectError }),
    /** A deposit that posted a journal entry now (not a replay). */
    deposit(currency: string, amountMinor: bigint): void {
      recordTransaction(counters, 'deposit', currency, amountMinor);
    },
  };
  return metrics;
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

// --------------------------------------------------------------------------------------- worker

/** Statuses counted by transfers_total: the end states and the parked state. */
export const COUNTED_TRANSFER_STATUSES = ['COMPLETED', 'REJECTED', 'CANCELLED', 'RETURNED', 'NEEDS_ATTENTION'] as const;
export type CountedTransferStatus = (typeof COUNTED_TRANSFER_STATUSES)[number];

export type AccountingFailureReason = 'limit_exceeded' | 'unavailable';

export function createWorkerMetrics(opts: { stores?: StoresOf } = {}) {
  const registry = new Registry();
  const counters = transactionCounters(registry);
  const transfers = new Counter({
    name: 'transfers_total',
    help: 'Transfers that reached a status: COMPLETED, REJECTED, CANCELLED (end states) or NEEDS_ATTENTION (parked)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const transferDuration = new Histogram({
    name: 'transfer_duration_seconds',
    help: 'Transfer duration from its creation (API) to its end state, by end state',
    labelNames: ['status'] as const,
    buckets: TRANSFER_BUCKETS,
    registers: [registry],
  });
  const insufficientFunds = new Counter({
    name: 'wallet_insufficient_funds_error_count',
    help: 'Transfers refused at the reserve step because the sender lacked available funds',
    registers: [registry],
  });
  const accountingFailures = new Counter({
    name: 'accounting_failures_total',
    help: 'Failed calls to the accounting system (book / reverse), by reason: limit_exceeded (a refusal) or unavailable (retried)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  if (opts.stores) dbPoolWaitingGauge(registry, opts.stores);
  // every label value at 0 from the start, so rate() and the dashboard see the series before the first event
  for (const status of COUNTED_TRANSFER_STATUSES) transfers.inc({ status }, 0);
  for (const reason of ['limit_exceeded', 'unavailable'] as const) accountingFailures.inc({ reason }, 0);
  counters.transactions.inc({ type: 'transfer' }, 0);

  return {
    registry,
    transfers,
    transferDuration,
    insufficientFunds,
    accountingFailures,
    ...counters,
    /** A transfer row moved into `status` (counted once: only by the write that changed it). */
    transferReached(status: CountedTransferStatus, durationSeconds?: number): void {
      transfers.inc({ status });
      if (durationSeconds !== undefined && status !== 'NEEDS_ATTENTION')
        transferDuration.observe({ status }, durationSeconds);
    },
    /** A transfer posted to the ledger now (not found posted already). */
    transferPosted(currency: string, amountMinor: bigint): void {
      recordTransaction(counters, 'transfer', currency, amountMinor);
    },
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** Port of the Temporal SDK's Prometheus exporter: TEMPORAL_METRICS_PORT, else WORKER_METRICS_PORT + 1; 0 = off. */
export function temporalMetricsPort(config: { WORKER_METRICS_PORT: number; TEMPORAL_METRICS_PORT?: number }): number {
  if (config.TEMPORAL_METRICS_PORT !== undefined) return config.TEMPORAL_METRICS_PORT;
  const port = config.WORKER_METRICS_PORT;
  return port > 0 && port < 65535 ? port + 1 : 0;
}
