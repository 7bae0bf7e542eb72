import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Client } from '@temporalio/client';
import { isCrossShard } from '../../domain/shards';
import { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { startTransfer } from '../../api/transfers/start-transfer';
import type { Config } from '../../config';
import { getTransfer } from '../../domain/transfers/records';
import { otlpTracesUrl, startTracing, TRACING_OFF, type Tracing } from '../../observability/tracing';
import { activityInterceptors, workflowSinks } from '../../worker/interceptors';
import { connectTemporalClient, testConfig, uniqueTaskQueue, workflowBundle } from '../support/env';
import { startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { eventually } from '../support/wallets';
import { customer, fund, injectDriver, openWallet, transfer } from './helpers';

/**
 * OpenTelemetry through the same wiring the processes use (startTracing → buildApp({ tracing }) and
 * buildTransferWorker({ tracing })), exporting to memory instead of OTLP: one transfer is one trace
 * from the HTTP request through the workflow to each activity. And off by default: no provider, no
 * interceptor, no span.
 */
describe('tracing', () => {
  it('is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    expect(startTracing(testConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }), 'wallet-api')).toBe(TRACING_OFF);
    expect(activityInterceptors(TRACING_OFF)).toHaveLength(1); // the log attributes only
    const app = await buildApp({ config: testConfig(), logger: false });
    try {
      expect(app.tracing.enabled).toBe(false);
      expect(app.temporal.options.interceptors.workflow ?? []).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('exports OTLP/HTTP to <endpoint>/v1/traces', () => {
    expect(otlpTracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('https://otel.example/v1/traces')).toBe('https://otel.example/v1/traces');
    expect(() => testConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  describe('when on', () => {
    const exporter = new InMemorySpanExporter();
    let tracing: Tracing;
    let config: Config;
    let app: FastifyInstance;
    let worker: RunningWorker;
    let plainClient: Client;

    beforeAll(async () => {
      config = testConfig({ TEMPORAL_TASK_QUEUE: uniqueTaskQueue('tracing') });
      tracing = startTracing(config, 'wallet-test', { exporter });
      app = await buildApp({ config, logger: false, tracing });
      worker = await startTransferWorker(config, { tracing });
      plainClient = await connectTemporalClient();
    });

    afterAll(async () => {
      await worker?.stop();
      await app?.close();
      await plainClient?.connection.close();
      await tracing?.shutdown();
    });

    const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

    it('follows a transfer from the HTTP request through the workflow to every activity, in one trace', async () => {
      const api = injectDriver(app);
      const alice = customer();
      const from = await openWallet(api, alice);
      const to = await openWallet(api, customer());
      await fund(api, from, 5_000);
      exporter.reset();

      const done = await transfer(api, alice, { fromWalletId: from, toWalletId: to, amount: 700 });
      expect(done.status).toBe('COMPLETED');
      // two customers: (almost always) two logical shards, whose saga debits and credits through clearing
      const activities = isCrossShard(from, to)
        ? ['reserve', 'accounting', 'debit', 'credit', 'notifyCrossShard']
        : ['reserve', 'accounting', 'ledger', 'notify'];
      const last = activities[activities.length - 1]!;
      // the workflow's spans arrive through the worker's sink once its last task completed
      const spans = await eventually(
        async () => {
          const all = exporter.getFinishedSpans();
          return named(all, 'RunWorkflow:transferWorkflow').length > 0 && named(all, `RunActivity:${last}`).length > 0
            ? all
            : undefined;
        },
        15_000,
        'the workflow span',
      );

      const [http] = named(spans, 'POST /v1/transfers');
      expect(http).toBeDefined();
      expect(http!.kind).toBe(SpanKind.SERVER);
      expect(http!.attributes).toMatchObject({
        'http.route': '/v1/transfers',
        'http.response.status_code': 200,
        'wallet.request_id': done.requestId,
      });
      const traceId = http!.spanContext().traceId;

      // the API starts the saga with update-with-start (its early answer)
      const [start] = named(spans, 'UpdateWithStartWorkflow:answer');
      expect(start?.parentSpanId).toBe(http!.spanContext().spanId);
      const [run] = named(spans, 'RunWorkflow:transferWorkflow');
      expect(run?.parentSpanId).toBe(start!.spanContext().spanId);
      // every step is a local activity: all traced alike
      for (const activity of activities) {
        const starts = named(spans, `StartActivity:${activity}`);
        const runs = named(spans, `RunActivity:${activity}`);
        expect({ activity, starts: starts.length > 0, runs: runs.length > 0 }).toEqual({
          activity,
          starts: true,
          runs: true,
        });
        for (const s of starts) expect(s.parentSpanId).toBe(run!.spanContext().spanId);
        // each attempt continues the workflow's trace under the span that scheduled it
        for (const r of runs) {
          expect(r.spanContext().traceId).toBe(traceId);
          expect(starts.map((s) => s.spanContext().spanId)).toContain(r.parentSpanId);
        }
      }
      const traced = spans.filter((s) => s.spanContext().traceId === traceId);
      expect(traced.length).toBe(spans.length);
      expect(traced.every((s) => s.resource.attributes['service.name'] === 'wallet-test')).toBe(true);

      // and the traced history replays deterministically on the same bundle
      const history = await app.temporal.workflow.getHandle(done.workflowId).fetchHistory();
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(), sinks: workflowSinks(TRACING_OFF) },
        history,
        done.workflowId,
      );
    });

    it('leaves a transfer started without a trace context untraced, on a tracing worker too', async () => {
      const from = await openWallet(injectDriver(app), customer());
      await fund(injectDriver(app), from, 1_000);
      const to = await openWallet(injectDriver(app), customer());
      await eventually(async () =>
        named(exporter.getFinishedSpans(), 'RunWorkflow:transferWorkflow').length ? true : undefined,
      );
      exporter.reset();

      const { transfer: t } = await startTransfer(
        { shards: app.shards, temporal: plainClient, config },
        {
          callerId: 'untraced',
          idempotencyKey: randomUUID(),
          requestHash: 'h',
          fromWalletId: from,
          toWalletId: to,
          amount: 100n,
          currency: 'EUR',
        },
        { waitSeconds: 0 },
      );
      await plainClient.workflow.getHandle(t.workflowId).result();
      expect((await getTransfer(app.shards.forTransfer(t.id).store, t.id)).status).toBe('COMPLETED');
      await new Promise((r) => setTimeout(r, 300)); // a late sink call would land here
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual([]);
    });
  });
});
