import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../db/store';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { buildApp } from '../../api/app';
import { workerReadiness } from '../../worker/http-server';
import type { Config } from '../../config';
import { closedPort } from '../api/helpers';
import { APP_METRICS, METRIC_CONTRACT, TEMPORAL_SDK_METRICS } from '../infra/metrics-contract';
import { testConfig, uniqueTaskQueue } from '../support/env';
import { eventually } from '../support/wallets';
import { isCrossShard } from '../../domain/shards';
import {
  customer,
  ensureWaitingOnStoreAttribute,
  fund,
  injectDriver,
  openWallet,
  parseMetrics,
  transfer,
  valueOf,
  type Sample,
} from './helpers';
import { query } from '../support/sql';

/**
 * After a completed and a rejected transfer, the API's /metrics and a worker process's /metrics
 * (dist/worker/main.js, as `npm start` and production run it, with the Temporal SDK exporter on)
 * expose the contract's metrics (test/infra/metrics-contract.ts: the names the alerts and the
 * dashboard use) with the right labels and the values these transfers must have produced.
 */
const WORKER_MAIN = path.resolve(__dirname, '../../dist/worker/main.js');
/** The dev stack's bundle (npm run build): the worker runs the bench's bare workflow below, as on `npm start`. */
const BENCH_BUNDLE = path.resolve(__dirname, '../../dist/workflow-bundle-bench.js');

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function spawnWorker(config: Config, ports: { metrics: number; temporal: number }): WorkerProcess {
  const child = spawn(process.execPath, [WORKER_MAIN], {
    env: {
      ...process.env,
      WORKER_ID: 'metrics-test',
      WORKER_BENCH_BASELINE: 'true',
      WORKER_BUNDLE_PATH: BENCH_BUNDLE,
      TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
      WORKER_METRICS_PORT: String(ports.metrics),
      TEMPORAL_METRICS_PORT: String(ports.temporal),
      WORKER_SHUTDOWN_GRACE_SECONDS: '5',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function scrape(
  url: string,
): Promise<{ text: string; samples: Sample[]; types: Map<string, string>; contentType: string }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, ...parseMetrics(text), contentType: res.headers.get('content-type') ?? '' };
}

/** A metric family's samples carry exactly the contract's labels (plus `le` on histogram buckets). */
function expectContractLabels(samples: Sample[], types: Map<string, string>, family: string): void {
  const spec = METRIC_CONTRACT[family]!;
  const names = spec.kind === 'histogram' ? [`${family}_bucket`, `${family}_sum`, `${family}_count`] : [family];
  const own = samples.filter((s) => names.includes(s.name));
  expect({ family, samples: own.length }).toEqual({ family, samples: expect.any(Number) });
  for (const s of own) {
    const expected = [...(spec.labels ?? []), ...(s.name.endsWith('_bucket') ? ['le'] : [])].sort();
    expect({ family, labels: Object.keys(s.labels).sort() }).toEqual({ family, labels: expected });
  }
  expect({ family, type: types.get(family) }).toEqual({ family, type: spec.kind });
}

describe('Prometheus metrics of the API and of a worker process', () => {
  let app: FastifyInstance;
  let worker: WorkerProcess;
  let config: Config;
  let workerUrl: string;
  /** the parked rows this test wrote, each on its sender's database */
  const parked: Array<{ id: string; store: Store }> = [];

  beforeAll(async () => {
    if (!fs.existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run \`npm run build\` first`);
    config = testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('metrics') });
    app = await buildApp({ config, logger: false });
    await ensureWaitingOnStoreAttribute(app.temporal); // wallet_sagas_waiting_for_store counts by it
    const ports = { metrics: await closedPort(), temporal: await closedPort() };
    workerUrl = `http://127.0.0.1:${ports.metrics}`;
    worker = spawnWorker(config, ports);
    await eventually(
      async () => {
        if (worker.child.exitCode !== null)
          throw new Error(`worker exited (${worker.child.exitCode}):\n${worker.output()}`);
        const res = await fetch(`${workerUrl}/health/ready`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      30_000,
      'the worker to be ready',
    );
  });

  afterAll(async () => {
    for (const { id, store } of parked) await query(store, `DELETE FROM transfers WHERE id = $1`, [id]);
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    await app?.close();
  });

  it('counts a completed and a rejected transfer, a deposit, a replay and the parked backlog', async () => {
    const api = injectDriver(app);
    const alice = customer();
    const bob = customer();
    const from = await openWallet(api, alice);
    const to = await openWallet(api, bob);
    await fund(api, from, 10_000);

    const key = `metrics-${randomUUID()}`;
    const completed = await transfer(api, alice, { fromWalletId: from, toWalletId: to, amount: 1_250 }, { key });
    expect(completed.status).toBe('COMPLETED');
    const rejected = await api.request('POST', '/v1/transfers', {
      caller: alice,
      body: { currency: 'EUR', fromWalletId: from, toWalletId: to, amount: 1_000_000 },
      headers: { 'idempotency-key': `metrics-${randomUUID()}` },
    });
    expect([rejected.status, (rejected.json() as { code: string }).code]).toEqual([422, 'INSUFFICIENT_FUNDS']);
    const replay = await transfer(api, alice, { fromWalletId: from, toWalletId: to, amount: 1_250 }, { key });
    expect(replay).toMatchObject({ id: completed.id, replayed: true });
    expect((await api.request('GET', `/v1/no-such-route/${randomUUID()}`)).status).toBe(404);

    // a parked transfer of our own wallets, for the gauge (which counts the whole table)
    const parkedId = randomUUID();
    const senderStore = app.shards.forWallet(from).store; // a transfer row lives on its sender's database
    parked.push({ id: parkedId, store: senderStore });
    await query(
      senderStore,
      `INSERT INTO transfers (id, caller_id, idempotency_key, request_hash, from_wallet_id, to_wallet_id, amount, currency,
                              workflow_id, status)
       VALUES ($1, $2, $3, 'x', $4, $5, 1, 'EUR', $6, 'NEEDS_ATTENTION')`,
      [parkedId, alice.sub, `parked-${parkedId}`, from, to, `transfer-${parkedId}`],
    );

    // ------------------------------------------------------------------------------ the API
    const apiRes = await app.inject({ method: 'GET', url: '/metrics' });
    expect(apiRes.statusCode).toBe(200);
    expect(apiRes.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const a = parseMetrics(apiRes.body);

    const transfersPost = { route: '/v1/transfers', method: 'POST', status_code: '200' };
    expect(valueOf(a.samples, 'http_request_duration_seconds_count', transfersPost)).toBeGreaterThanOrEqual(2);
    expect(
      valueOf(a.samples, 'http_request_duration_seconds_bucket', { ...transfersPost, le: '+Inf' }),
    ).toBeGreaterThanOrEqual(2);
    expect(valueOf(a.samples, 'http_request_duration_seconds_sum', transfersPost)).toBeGreaterThan(0);
    expect(
      valueOf(a.samples, 'http_request_duration_seconds_count', {
        route: '/v1/wallets/:id/deposits',
        status_code: '201',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(a.samples, 'http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' }),
    ).toBeGreaterThanOrEqual(1);
    // route patterns only, never a raw URL (a wallet or transfer id in a label is unbounded cardinality)
    const routes = new Set(a.samples.filter((s) => s.labels.route !== undefined).map((s) => s.labels.route));
    for (const route of routes) expect(route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);

    expect(valueOf(a.samples, 'idempotent_replays_total', { route: '/v1/transfers' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(a.samples, 'transactions_total', { type: 'deposit' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(a.samples, 'transactions_amount_total', { currency: 'EUR' })).toBeGreaterThanOrEqual(10_000);
    expect(valueOf(a.samples, 'transfers_needs_attention')).toBeGreaterThanOrEqual(1);
    expect(valueOf(a.samples, 'db_connection_pool_waiting')).toBe(0);
    // every database's breaker closed, and no saga waiting for any of them
    for (const { name } of app.shards.all) {
      expect([name, valueOf(a.samples, 'wallet_store_breaker_state', { store: name })]).toEqual([name, 0]);
      expect([name, valueOf(a.samples, 'wallet_sagas_waiting_for_store', { store: name })]).toEqual([name, 0]);
    }
    expect(valueOf(a.samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(a.samples, 'nodejs_eventloop_lag_seconds')).toBeDefined();
    for (const family of [
      'http_request_duration_seconds',
      'idempotent_replays_total',
      'transactions_total',
      'transactions_amount_total',
      'transfers_needs_attention',
      'db_connection_pool_waiting',
      'wallet_store_breaker_state',
      'wallet_sagas_waiting_for_store',
    ]) {
      expectContractLabels(a.samples, a.types, family);
    }

    // ---------------------------------------------------------------------------- the worker
    // Transfers run only local activities; the regular-activity metrics the alerts watch (a v1 saga
    // still in flight, or a notifier moved to a regular activity) come from the bench's bare workflow.
    await app.temporal.workflow.execute('baselineActivities', {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowId: `metrics-regular-${randomUUID()}`,
      args: [1],
    });
    // the saga's last step (COMPLETED written) may still be reporting when the API answered
    const w = await eventually(
      async () => {
        const m = await scrape(`${workerUrl}/metrics`);
        return (valueOf(m.samples, 'temporal_workflow_completed', { workflow_type: 'transferWorkflow' }) ?? 0) >= 2
          ? m
          : undefined;
      },
      15_000,
      'both transfer workflows to be reported complete by the worker',
    );
    expect(w.contentType).toMatch(/^text\/plain; version=0\.0\.4/);

    expect(valueOf(w.samples, 'transfers_total', { status: 'COMPLETED' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(w.samples, 'transfers_total', { status: 'REJECTED' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(w.samples, 'transfers_total', { status: 'CANCELLED' })).toBe(0);
    expect(valueOf(w.samples, 'transfer_duration_seconds_count', { status: 'COMPLETED' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(w.samples, 'transfer_duration_seconds_count', { status: 'REJECTED' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(w.samples, 'transfer_duration_seconds_sum', { status: 'COMPLETED' })).toBeGreaterThan(0);
    expect(valueOf(w.samples, 'transactions_total', { type: 'transfer' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(w.samples, 'transactions_amount_total', { currency: 'EUR' })).toBeGreaterThanOrEqual(1_250);
    expect(valueOf(w.samples, 'wallet_insufficient_funds_error_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(w.samples, 'accounting_failures_total', { reason: 'unavailable' })).toBe(0);
    expect(valueOf(w.samples, 'db_connection_pool_waiting')).toBe(0);
    for (const { name } of app.shards.all) {
      expect([name, valueOf(w.samples, 'wallet_store_breaker_state', { store: name })]).toEqual([name, 0]);
    }
    expect(valueOf(w.samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    for (const family of [
      'transfers_total',
      'transfer_duration_seconds',
      'transactions_total',
      'transactions_amount_total',
      'wallet_insufficient_funds_error_count',
      'accounting_failures_total',
      'db_connection_pool_waiting',
      'wallet_store_breaker_state',
    ]) {
      expectContractLabels(w.samples, w.types, family);
    }

    // Temporal's own metrics, appended by the worker, under the names the alerts use
    const queue = { task_queue: config.TEMPORAL_TASK_QUEUE };
    expect(
      valueOf(w.samples, 'temporal_workflow_completed', { ...queue, workflow_type: 'transferWorkflow' }),
    ).toBeGreaterThanOrEqual(2);
    expect(valueOf(w.samples, 'temporal_workflow_task_schedule_to_start_latency_count', queue)).toBeGreaterThan(0);
    // every saga step runs as a local activity (two customers: almost always two logical shards)
    const steps = isCrossShard(from, to)
      ? ['reserve', 'accounting', 'debit', 'credit', 'notifyCrossShard']
      : ['reserve', 'accounting', 'ledger', 'notify'];
    for (const step of steps) {
      expect(
        valueOf(w.samples, 'temporal_local_activity_execution_latency_count', { ...queue, activity_type: step }),
      ).toBeGreaterThan(0);
    }
    expect(
      valueOf(w.samples, 'temporal_worker_task_slots_available', { ...queue, worker_type: 'ActivityWorker' }),
    ).toBeGreaterThan(0);
    expect(valueOf(w.samples, 'temporal_num_pollers', queue)).toBeDefined();

    // every name either process exposes is in the contract, and every business metric is exposed by one of them
    const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const exposed = new Set(
      [...a.samples, ...w.samples].map((s) => (METRIC_CONTRACT[s.name] ? s.name : family(s.name))),
    );
    const unknown = [...exposed].filter((n) => !METRIC_CONTRACT[n] && !n.startsWith('temporal_'));
    expect(unknown).toEqual([]);
    expect(Object.keys(APP_METRICS).filter((n) => !exposed.has(n))).toEqual(
      // only when something happens: a 429, a failed rate-limit check
      ['rate_limited_total', 'rate_limit_store_errors_total'].filter((n) => !exposed.has(n)),
    );
    const temporalUsed = [
      'temporal_activity_schedule_to_start_latency',
      'temporal_workflow_task_schedule_to_start_latency',
      'temporal_activity_execution_latency',
      'temporal_local_activity_execution_latency',
      'temporal_worker_task_slots_available',
      'temporal_workflow_completed',
    ];
    for (const name of temporalUsed) {
      expect(TEMPORAL_SDK_METRICS[name]).toBeDefined();
      expect(exposed.has(name)).toBe(true);
    }
  });

  it('counts requests refused with 429 by route', async () => {
    const limited = await buildApp({ config: testConfig({ RATE_LIMIT_READ: '1' }), logger: false });
    try {
      const api = injectDriver(limited);
      const owner = customer();
      const wallet = await openWallet(api, owner);
      expect((await api.request('GET', `/v1/wallets/${wallet}`, { caller: owner })).status).toBe(200);
      expect((await api.request('GET', `/v1/wallets/${wallet}`, { caller: owner })).status).toBe(429);
      const m = parseMetrics((await limited.inject({ method: 'GET', url: '/metrics' })).body);
      expect(valueOf(m.samples, 'rate_limited_total', { route: '/v1/wallets/:id' })).toBe(1);
      expect(
        valueOf(m.samples, 'http_request_duration_seconds_count', { route: '/v1/wallets/:id', status_code: '429' }),
      ).toBe(1);
      expectContractLabels(m.samples, m.types, 'rate_limited_total');
    } finally {
      await limited.close();
    }
  });

  it('serves liveness and readiness beside the metrics, and the worker stops cleanly on SIGTERM', async () => {
    const live = await fetch(`${workerUrl}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${workerUrl}/health/ready`);
    expect(ready.status).toBe(200);
    const readiness = (await ready.json()) as { status: string; checks: object; databases?: Record<string, string> };
    expect(readiness).toMatchObject({ status: 'ok', checks: { worker: 'ok', temporal: 'ok', postgres: 'ok' } });
    // every database, once worker/main.ts hands its ShardSet to workerReadiness
    for (const check of Object.values(readiness.databases ?? {})) expect(check).toBe('ok');
    expect((await fetch(`${workerUrl}/nope`)).status).toBe(404);

    // worker log lines are JSON, and the activity lines carry the workflow and the transfer
    const lines = worker
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const reserve = lines.find((l) => l.msg === 'reserve');
    expect(reserve).toMatchObject({ service: 'wallet-worker', workerId: 'metrics-test', activityType: 'reserve' });
    expect(reserve?.transferId).toEqual(expect.any(String));
    expect(reserve?.workflowId).toBe(`transfer-${String(reserve?.transferId)}`);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    await expect(fetch(`${workerUrl}/health/live`)).rejects.toThrow();
  });
});

describe('worker readiness', () => {
  const connection = (status: number | Error) =>
    ({
      withDeadline: (_d: number, fn: () => Promise<unknown>) => fn(),
      healthService: { check: async () => (status instanceof Error ? Promise.reject(status) : { status }) },
    }) as unknown as NativeConnection;
  // the check is the Store's ping (db/store.ts)
  const db = (up: boolean) =>
    ({ ping: async () => (up ? undefined : Promise.reject(new Error('connection refused'))) }) as unknown as Store;
  const worker = (state: string) => ({ getState: () => state }) as unknown as Worker;

  it('is ready only while polling with Temporal and Postgres answering', async () => {
    expect(
      await workerReadiness({ worker: () => worker('RUNNING'), connection: connection(1), db: db(true) })(),
    ).toEqual({
      status: 'ok',
      checks: { worker: 'ok', temporal: 'ok', postgres: 'ok' },
    });
    expect(await workerReadiness({ worker: () => undefined, connection: connection(1), db: db(true) })()).toMatchObject(
      {
        status: 'unavailable',
        checks: { worker: 'not polling: STARTING' },
      },
    );
    expect(
      await workerReadiness({ worker: () => worker('DRAINING'), connection: connection(1), db: db(true) })(),
    ).toMatchObject({
      status: 'unavailable',
      checks: { worker: 'not polling: DRAINING' },
    });
    expect(
      await workerReadiness({
        worker: () => worker('RUNNING'),
        connection: connection(new Error('14 UNAVAILABLE')),
        db: db(false),
      })(),
    ).toEqual({
      status: 'unavailable',
      checks: { worker: 'ok', temporal: 'unreachable: 14 UNAVAILABLE', postgres: 'unreachable: connection refused' },
    });
    expect(
      (await workerReadiness({ worker: () => worker('RUNNING'), connection: connection(2), db: db(true) })()).checks
        .temporal,
    ).toMatch(/^unreachable: health status 2/);
  });
});
