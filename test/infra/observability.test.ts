import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { METRIC_CONTRACT, metricNames, queryableSeriesNames } from './metrics-contract';

/**
 * The observability files are consistent with each other and with the metric contract:
 * every PromQL expression of the Grafana dashboard and of the alert rules selects only contract
 * metrics; alerts carry severity, summary, description and the runbook link; Prometheus scrapes
 * the API, every worker replica and Temporal. (Syntax: promtool in scripts/check-infra.sh.)
 */
const ROOT = path.resolve(__dirname, '../..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string; current?: { value?: string } }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const RUNBOOK_BASE = 'https://github.com/example/wallet-transfers/blob/main/docs/runbooks.md#';

/** The alert names docs/runbooks.md has a section (and anchor) for. */
const EXPECTED_ALERTS = [
  'WalletTransferErrorRateHigh',
  'WalletTransfersParked',
  'WalletTransfersParkedBacklog',
  'WalletReconciliationDiscrepancies',
  'WalletReconciliationStale',
  'WalletInsufficientFundsSpike',
  'WalletAccountingFailures',
  'WalletDbPoolWaiting',
  'WalletStoreBreakerOpen',
  'WalletSagasWaitingForStore',
  'WalletApiLatencyP95High',
  'WalletApiLatencyP95Critical',
  'WalletApiErrorRateHigh',
  'WalletApiDown',
  'WalletRateLimitFallback',
  'WalletWorkerDown',
  'WalletNoWorkers',
  'TemporalActivityScheduleToStartLatencyHigh',
  'TemporalWorkflowTaskScheduleToStartLatencyHigh',
  'TemporalWorkerTaskSlotsExhausted',
];

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

function unknownMetrics(expr: string): string[] {
  const allowed = queryableSeriesNames();
  return metricNames(expr).filter((n) => !allowed.has(n));
}

describe('PromQL metric-name extraction', () => {
  it('finds the selected metrics and ignores functions, keywords, labels, ranges and variables', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"/health/.*|foo(bar)"}[$__rate_interval])))',
      ),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(
      metricNames('sum(rate(a_total[1d] offset 10m)) > 3 * sum(increase(b[10m])) and on(job) c == bool 1e3'),
    ).toEqual(['a_total', 'b', 'c']);
    expect(metricNames('absent(up{job="wallet-worker"} == 1)')).toEqual(['up']);
    expect(metricNames('max without (instance) (x) / ignoring (status) group_left (le) y')).toEqual(['x', 'y']);
  });

  it('allows histograms only through their _bucket/_sum/_count series', () => {
    expect(unknownMetrics('rate(transfer_duration_seconds_bucket[5m])')).toEqual([]);
    expect(unknownMetrics('rate(transfer_duration_seconds[5m])')).toEqual(['transfer_duration_seconds']);
    expect(unknownMetrics('rate(temporal_activity_schedule_to_start_latency_seconds_bucket[5m])')).toEqual([
      'temporal_activity_schedule_to_start_latency_seconds_bucket',
    ]);
  });
});

describe('Grafana dashboard infra/grafana/dashboards/wallet.json', () => {
  const dashboard = JSON.parse(read('infra/grafana/dashboards/wallet.json')) as Dashboard;
  const panels = allPanels(dashboard.panels);
  const queryPanels = panels.filter((p) => p.type !== 'row');
  const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));

  it('is a provisionable dashboard with unique panel ids and a sane grid', () => {
    expect(dashboard.uid).toBe('wallet-transfers');
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
    }
  });

  it('queries Prometheus through the ${datasource} variable, whose default is the provisioned data source', () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const provisioned = parse(read('infra/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(provisioned.datasources.map((d) => d.uid)).toContain(variable?.current?.value);
    for (const p of queryPanels) {
      expect(p.targets?.length).toBeGreaterThan(0);
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.expr).toBeTruthy();
    }
  });

  it('uses only metric names from the contract', () => {
    const offending = exprs
      .map(({ panel, expr }) => ({ panel, expr, unknown: unknownMetrics(expr) }))
      .filter((e) => e.unknown.length > 0);
    expect(offending).toEqual([]);
  });

  it('shows throughput, latency, statuses, backlog, failures, replays, rate limits, pool and workers', () => {
    const used = new Set(exprs.flatMap((e) => metricNames(e.expr)));
    for (const name of [
      'transfers_total',
      'transactions_total',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_count',
      'transfer_duration_seconds_bucket',
      'transfers_needs_attention',
      'wallet_insufficient_funds_error_count',
      'accounting_failures_total',
      'idempotent_replays_total',
      'rate_limited_total',
      'db_connection_pool_waiting',
      'temporal_worker_task_slots_available',
      'temporal_activity_schedule_to_start_latency_bucket',
      'temporal_workflow_task_schedule_to_start_latency_bucket',
    ]) {
      expect(used).toContain(name);
    }
  });
});

describe('Prometheus alert rules infra/prometheus/alerts.yml', () => {
  const rules = (
    parse(read('infra/prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] }
  ).groups.flatMap((g) => g.rules);
  const alerts = rules.filter((r): r is Rule & { alert: string } => typeof r.alert === 'string');

  it('defines exactly the alerts the runbook documents, each once', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([...EXPECTED_ALERTS].sort());
  });

  it.each(EXPECTED_ALERTS)('%s has a severity, a `for`, summary, description and its runbook link', (name) => {
    const a = alerts.find((r) => r.alert === name)!;
    expect(['warning', 'critical']).toContain(a.labels?.severity);
    expect(a.for).toMatch(/^\d+[smh]$/);
    expect(a.annotations?.summary).toBeTruthy();
    expect((a.annotations?.description ?? '').length).toBeGreaterThan(40);
    expect(a.annotations?.runbook).toBe(RUNBOOK_BASE + name.toLowerCase());
    expect(a.annotations?.runbook_url).toBe(a.annotations?.runbook);
  });

  it('uses only metric names from the contract', () => {
    const offending = rules
      .map((r) => ({ rule: r.alert ?? r.record, unknown: unknownMetrics(r.expr) }))
      .filter((e) => e.unknown.length > 0);
    expect(offending).toEqual([]);
  });

  it('watches the worker job that prometheus.yml scrapes, and the latency histograms in seconds', () => {
    const byName = (n: string) => alerts.find((a) => a.alert === n)!.expr;
    expect(byName('WalletWorkerDown')).toContain('up{job="wallet-worker"} == 0');
    expect(byName('TemporalActivityScheduleToStartLatencyHigh')).toContain(
      'temporal_activity_schedule_to_start_latency_bucket',
    );
    expect(byName('TemporalWorkerTaskSlotsExhausted')).toContain('temporal_worker_task_slots_available');
  });
});

describe('Prometheus config infra/prometheus/prometheus.yml', () => {
  const config = parse(read('infra/prometheus/prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: {
      job_name: string;
      metrics_path?: string;
      static_configs?: { targets: string[] }[];
      dns_sd_configs?: { names: string[]; type: string; port: number }[];
    }[];
  };
  const job = (name: string) => config.scrape_configs.find((j) => j.job_name === name);

  it('loads the alert rules', () => {
    expect(config.rule_files).toContain('alerts.yml');
  });

  it('scrapes the API, every worker replica (DNS service discovery) and the Temporal server', () => {
    expect(job('wallet-api')?.static_configs?.[0]?.targets).toEqual(['api:3000']);
    expect(job('wallet-worker')?.dns_sd_configs?.[0]).toMatchObject({ names: ['worker'], type: 'A', port: 9464 });
    expect(job('temporal-server')?.static_configs?.[0]?.targets).toEqual(['temporal:8000']);
  });

  it('every contract metric has a known kind', () => {
    for (const spec of Object.values(METRIC_CONTRACT))
      expect(['counter', 'gauge', 'histogram', 'summary']).toContain(spec.kind);
  });
});
