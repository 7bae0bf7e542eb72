import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { loadConfig } from '../config';
import { createActivities } from '../activities';
import { loggerOptions } from '../observability/logger';
import { temporalMetricsPort } from '../observability/metrics';
import { startTracing } from '../observability/tracing';
import { buildTransferWorker } from './build-worker';
import { openActivityDeps } from './deps';
import { startWorkerHttpServer, workerReadiness } from './http-server';

/**
 * Worker process. Loads the workflow bundle prebuilt by `npm run build`, so start-up does not
 * re-bundle. SIGINT/SIGTERM (handled by the Temporal runtime) stop polling and let in-flight
 * activities finish within WORKER_SHUTDOWN_GRACE_SECONDS; then connections are closed.
 *
 * Observability: pino JSON logs (Temporal's own logs forwarded into them; every activity and
 * workflow line carries workflowId and transferId); /metrics, /health/live and /health/ready on
 * HOST:WORKER_METRICS_PORT (worker/http-server.ts), where /metrics appends the Temporal SDK's
 * Prometheus exporter (127.0.0.1:TEMPORAL_METRICS_PORT); OpenTelemetry when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (observability/tracing.ts).
 */
const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

async function main() {
  const config = loadConfig();
  const logger = pino(loggerOptions(config, 'wallet-worker', { workerId: process.env.WORKER_ID }));

  // A signal during start-up (before the worker polls) must still stop the process.
  let stopRequested = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (stopRequested = true));

  const temporalPort = temporalMetricsPort(config);
  // Temporal's own logs (worker and core) go through the same pino JSON stream as ours.
  Runtime.install({
    logger: new DefaultLogger(config.LOG_LEVEL === 'silent' ? 'ERROR' : 'INFO', ({ level, message, meta }) =>
      logger[PINO_LEVEL[level]]({ ...meta }, message),
    ),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      // names as infra/README.md "Metrics" expects: seconds, no unit suffix, counters without _total
      ...(temporalPort > 0
        ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${temporalPort}`, useSecondsForDurations: true } } }
        : {}),
    },
  });
  const tracing = startTracing(config, 'wallet-worker');

  const deps = await openActivityDeps(config);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  let worker: Worker | undefined;
  const httpServer = await startWorkerHttpServer({
    host: config.HOST,
    port: config.WORKER_METRICS_PORT,
    registry: deps.metrics.registry,
    temporalMetricsUrl: temporalPort > 0 ? `http://127.0.0.1:${temporalPort}/metrics` : undefined,
    readiness: workerReadiness({ worker: () => worker, connection, db: deps.db }),
  });
  logger.info(
    { metrics: `${httpServer.url}/metrics`, health: `${httpServer.url}/health/ready`, tracing: tracing.enabled },
    'worker metrics and health server listening',
  );

  try {
    if (stopRequested) return;
    const bundlePath = config.WORKER_BUNDLE_PATH ?? path.resolve(__dirname, '../workflow-bundle.js');
    worker = await buildTransferWorker({
      connection,
      config,
      activities: createActivities(deps),
      workflows: { workflowBundle: { codePath: bundlePath } },
      tracing,
    });
    logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, identity: worker.options.identity }, 'worker started');
    const running = worker.run();
    if (stopRequested && worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  } finally {
    await httpServer.close();
    await connection.close();
    await deps.close();
    await tracing.shutdown();
    logger.info('worker stopped');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
