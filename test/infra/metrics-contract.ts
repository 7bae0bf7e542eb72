/**
 * The metric-name contract between the code (which exports the metrics) and the operations files
 * (infra/prometheus/alerts.yml, infra/grafana/dashboards/wallet.json), which may only use these
 * names. Mirrors the list in infra/README.md ("Metrics"). A metric renamed in code must be renamed
 * here, in infra/README.md and in the rules/dashboard, or test/infra/observability.test.ts fails.
 */
export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface MetricSpec {
  kind: MetricKind;
  labels?: readonly string[];
}

/** Business and HTTP metrics (prom-client, API and, where they observe them, workers). */
export const APP_METRICS: Readonly<Record<string, MetricSpec>> = {
  http_request_duration_seconds: { kind: 'histogram', labels: ['route', 'method', 'status_code'] },
  transfers_total: { kind: 'counter', labels: ['status'] },
  transfer_duration_seconds: { kind: 'histogram', labels: ['status'] },
  transactions_total: { kind: 'counter', labels: ['type'] },
  transactions_amount_total: { kind: 'counter', labels: ['currency'] },
  wallet_insufficient_funds_error_count: { kind: 'counter' },
  accounting_failures_total: { kind: 'counter', labels: ['reason'] },
  transfers_needs_attention: { kind: 'gauge' },
  idempotent_replays_total: { kind: 'counter', labels: ['route'] },
  db_connection_pool_waiting: { kind: 'gauge' },
  rate_limited_total: { kind: 'counter', labels: ['route'] },
  /** API: rate-limit checks counted in memory because Redis did not answer */
  rate_limit_store_errors_total: { kind: 'counter' },
  /** API: 1 while this process counts rate limits in memory (Redis unreachable) */
  rate_limit_fallback_active: { kind: 'gauge' },
  /** API: the latest finished reconciliation run, from the database */
  reconciliation_discrepancies: { kind: 'gauge', labels: ['kind'] },
  reconciliation_last_success_timestamp_seconds: { kind: 'gauge' },
  /** API and workers: each process's circuit breaker of each database, 0 closed, 1 half-open, 2 open */
  wallet_store_breaker_state: { kind: 'gauge', labels: ['store'] },
  /** API: running transfer sagas waiting on a durable timer for a database (Temporal's visibility, cached 5 s) */
  wallet_sagas_waiting_for_store: { kind: 'gauge', labels: ['store'] },
};

/** prom-client 15 default metrics (collectDefaultMetrics), names as exported. */
export const PROCESS_METRICS: Readonly<Record<string, MetricSpec>> = {
  process_cpu_seconds_total: { kind: 'counter' },
  process_cpu_user_seconds_total: { kind: 'counter' },
  process_cpu_system_seconds_total: { kind: 'counter' },
  process_start_time_seconds: { kind: 'gauge' },
  process_resident_memory_bytes: { kind: 'gauge' },
  process_virtual_memory_bytes: { kind: 'gauge' },
  process_heap_bytes: { kind: 'gauge' },
  process_open_fds: { kind: 'gauge' },
  process_max_fds: { kind: 'gauge' },
  nodejs_eventloop_lag_seconds: { kind: 'gauge' },
  nodejs_eventloop_lag_min_seconds: { kind: 'gauge' },
  nodejs_eventloop_lag_max_seconds: { kind: 'gauge' },
  nodejs_eventloop_lag_mean_seconds: { kind: 'gauge' },
  nodejs_eventloop_lag_stddev_seconds: { kind: 'gauge' },
  nodejs_eventloop_lag_p50_seconds: { kind: 'gauge' },
  nodejs_eventloop_lag_p90_seconds: { kind: 'gauge' },
  nodejs_eventloop_lag_p99_seconds: { kind: 'gauge' },
  nodejs_active_handles: { kind: 'gauge' },
  nodejs_active_handles_total: { kind: 'gauge' },
  nodejs_active_requests: { kind: 'gauge' },
  nodejs_active_requests_total: { kind: 'gauge' },
  nodejs_active_resources: { kind: 'gauge' },
  nodejs_active_resources_total: { kind: 'gauge' },
  nodejs_heap_size_total_bytes: { kind: 'gauge' },
  nodejs_heap_size_used_bytes: { kind: 'gauge' },
  nodejs_external_memory_bytes: { kind: 'gauge' },
  nodejs_heap_space_size_total_bytes: { kind: 'gauge' },
  nodejs_heap_space_size_used_bytes: { kind: 'gauge' },
  nodejs_heap_space_size_available_bytes: { kind: 'gauge' },
  nodejs_version_info: { kind: 'gauge' },
  nodejs_gc_duration_seconds: { kind: 'histogram' },
};

/**
 * Temporal SDK core metrics as the TypeScript SDK's Prometheus exporter (Runtime.install
 * telemetryOptions.metrics.prometheus) names them with `useSecondsForDurations: true` and the
 * defaults `unitSuffix: false`, `countersTotalSuffix: false`: prefix `temporal_`, latency
 * histograms in seconds WITHOUT a `_seconds` suffix, counters WITHOUT `_total`.
 * Checked by scraping a @temporalio/worker 1.24.0 worker (see infra/README.md); the Temporal
 * docs' "SDK metrics reference" lists the same names without the prefix.
 */
export const TEMPORAL_SDK_METRICS: Readonly<Record<string, MetricSpec>> = {
  temporal_activity_execution_failed: {
    kind: 'counter',
    labels: ['activity_type', 'workflow_type', 'task_queue', 'namespace'],
  },
  temporal_activity_execution_latency: { kind: 'histogram', labels: ['activity_type', 'task_queue', 'namespace'] },
  temporal_activity_schedule_to_start_latency: { kind: 'histogram', labels: ['task_queue', 'namespace'] },
  temporal_activity_succeed_endtoend_latency: {
    kind: 'histogram',
    labels: ['activity_type', 'task_queue', 'namespace'],
  },
  temporal_activity_task_received: { kind: 'counter' },
  temporal_local_activity_execution_latency: {
    kind: 'histogram',
    labels: ['activity_type', 'task_queue', 'namespace'],
  },
  temporal_local_activity_total: { kind: 'counter', labels: ['activity_type', 'task_queue', 'namespace'] },
  temporal_workflow_task_schedule_to_start_latency: { kind: 'histogram', labels: ['task_queue', 'namespace'] },
  temporal_workflow_task_execution_latency: { kind: 'histogram' },
  temporal_workflow_task_replay_latency: { kind: 'histogram' },
  temporal_workflow_task_queue_poll_succeed: { kind: 'counter' },
  temporal_workflow_endtoend_latency: { kind: 'histogram', labels: ['workflow_type', 'task_queue', 'namespace'] },
  temporal_workflow_completed: { kind: 'counter', labels: ['workflow_type', 'task_queue', 'namespace'] },
  temporal_workflow_failed: { kind: 'counter', labels: ['workflow_type', 'task_queue', 'namespace'] },
  temporal_worker_task_slots_available: { kind: 'gauge', labels: ['worker_type', 'task_queue', 'namespace'] },
  temporal_worker_task_slots_used: { kind: 'gauge', labels: ['worker_type', 'task_queue', 'namespace'] },
  temporal_worker_start: { kind: 'counter' },
  temporal_num_pollers: { kind: 'gauge', labels: ['poller_type', 'task_queue', 'namespace'] },
  temporal_sticky_cache_hit: { kind: 'counter' },
  temporal_sticky_cache_size: { kind: 'gauge' },
  temporal_request: { kind: 'counter' },
  temporal_request_latency: { kind: 'histogram' },
  temporal_long_request: { kind: 'counter' },
  temporal_long_request_latency: { kind: 'histogram' },
};

/** Series Prometheus itself synthesizes for every target. */
export const PROMETHEUS_SYNTHETIC: Readonly<Record<string, MetricSpec>> = {
  up: { kind: 'gauge' },
};

export const METRIC_CONTRACT: Readonly<Record<string, MetricSpec>> = {
  ...APP_METRICS,
  ...PROCESS_METRICS,
  ...TEMPORAL_SDK_METRICS,
  ...PROMETHEUS_SYNTHETIC,
};

/** Every series name a PromQL expression may select: histograms only through _bucket/_sum/_count. */
export function queryableSeriesNames(contract: Readonly<Record<string, MetricSpec>> = METRIC_CONTRACT): Set<string> {
  const names = new Set<string>();
  for (const [name, spec] of Object.entries(contract)) {
    if (spec.kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    else if (spec.kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
    else names.add(name);
  }
  return names;
}

const NON_METRIC_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
  'start',
  'end',
  'atan2',
]);

/**
 * The metric names a PromQL expression selects. A small lexer, not a parser: it drops string
 * literals, label matchers, ranges/subqueries and grouping clauses, then keeps the identifiers that
 * are neither keywords nor function/aggregation calls. Grafana variables ($__rate_interval, ...)
 * only occur inside those dropped parts. Syntax itself is checked by promtool (scripts/check-infra.sh).
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^{}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    const rest = stripped.slice((m.index ?? 0) + word.length);
    if (/^\s*\(/.test(rest)) continue; // a function or an aggregation
    if (NON_METRIC_WORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}
