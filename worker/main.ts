import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from '../config';
import { activitiesFor } from '../activities';
import { SchemaNotCurrent } from '../db/shards';
import { connectWithRetry, StartupAborted } from '../observability/dependency-retry';
import { loggerOptions } from '../observability/logger';
import { temporalMetricsPort } from '../observability/metrics';
import { startTracing } from '../observability/tracing';
import { buildTransferWorker } from './build-worker';
import { bundleFileName } from './bundle';
import { createActivityDeps } from './deps';
import { sdkLogLine } from './sdk-log';
import { startWorkerHttpServer, workerReadiness } from './http-server';

/**
 * Worker process. Loads the workflow bundle prebuilt by `npm run build`, so start-up does not
 * re-bundle. SIGINT/SIGTERM (handled by the Temporal runtime) stop polling and let in-flight
 * activities finish within WORKER_SHUTDOWN_GRACE_SECONDS; then connections are closed.
 *
 * Postgres or Temporal down at start: the worker waits for them (observability/dependency-retry.ts: one
 * JSON warn line per failed attempt, backoff capped at DEPENDENCY_RETRY_MAX_SECONDS), serving
 * /health/live meanwhile (/health/ready 503); a signal while it waits stops it at once (exit 0).
 *
 * Observability: pino JSON logs (Temporal's own logs forwarded into them; every activity and
 * workflow line carries workflowId and transferId); /metrics, /health/live and /health/ready on
 * HOST:WORKER_METRICS_PORT (worker/http-server.ts), where /metrics appends the Temporal SDK's
 * Prometheus exporter (127.0.0.1:TEMPORAL_METRICS_PORT); OpenTelemetry when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (observability/tracing.ts).
 */
const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * A connection to Temporal whose namespace answers: Worker.create checks the namespace, and a failed
 * Worker.create is not retried (each attempt would leave its workflow threads behind), so this is
 * what the start-up waits for.
 */
async function connectTemporal(config: Config): Promise<NativeConnection> {
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    await connection.withDeadline(Date.now() + 5000, () =>
      connection.workflowService.describeNamespace({ namespace: config.TEMPORAL_NAMESPACE }),
    );
    return connection;
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}

async function main() {
  const config = loadConfig();
  const logger = pino(loggerOptions(config, 'wallet-worker', { workerId: process.env.WORKER_ID }));

  // A signal during start-up (before the worker polls, e.g. while Postgres or Temporal is still
  // down) must still stop the process, at once; once it polls, the Temporal runtime drains it.
  const stop = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      if (!stop.signal.aborted) logger.info({ signal: sig }, 'stop requested');
      stop.abort();
    });
  }

  const temporalPort = temporalMetricsPort(config);
  // Temporal's own logs (worker and core) go through the same pino JSON stream as ours.
  Runtime.install({
    logger: new DefaultLogger(config.LOG_LEVEL === 'silent' ? 'ERROR' : 'INFO', (entry) => {
      const { level, meta } = sdkLogLine(entry.level, entry.meta); // a business refusal is info, not a warning
      logger[PINO_LEVEL[level]]({ ...meta }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      // names as infra/README.md "Metrics" expects: seconds, no unit suffix, counters without _total
      ...(temporalPort > 0
        ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${temporalPort}`, useSecondsForDurations: true } } }
        : {}),
    },
  });
  const tracing = startTracing(config, 'wallet-worker');

  // /health/live answers from here on; /health/ready says what is still missing (503) until the worker polls.
  const deps = createActivityDeps(config, logger);
  let connection: NativeConnection | undefined;
  let worker: Worker | undefined;
  const httpServer = await startWorkerHttpServer({
    host: config.HOST,
    port: config.WORKER_METRICS_PORT,
    registry: deps.metrics.registry,
    temporalMetricsUrl: temporalPort > 0 ? `http://127.0.0.1:${temporalPort}/metrics` : undefined,
    readiness: workerReadiness({ worker: () => worker, connection: () => connection, db: deps.db }),
  });
  logger.info(
    { metrics: `${httpServer.url}/metrics`, health: `${httpServer.url}/health/ready`, tracing: tracing.enabled },
    'worker metrics and health server listening',
  );

  let schemaFailure: SchemaNotCurrent | undefined;
  try {
    // Postgres and Temporal down at start: wait for them (backoff, one warn line per attempt), never exit.
    const retry = { logger, maxDelayMs: config.DEPENDENCY_RETRY_MAX_SECONDS * 1000, signal: stop.signal };
    // Database 0 first; every other database is connected (and its schema checked) on its own, so a
    // shard down at start-up stops only the sagas that need it (they wait for it). A database that turns
    // out to be missing or behind on its migrations stops the worker: it must not serve on it.
    for (const db of deps.shards.all.filter((d) => d !== deps.shards.home)) {
      void connectWithRetry(() => deps.shards.connectOne(db), {
        ...retry,
        dependency: `postgres ${db.name}`,
        isFatal: (err) => err instanceof SchemaNotCurrent,
      }).catch((err: unknown) => {
        if (!(err instanceof SchemaNotCurrent)) return; // StartupAborted: stopping anyway
        schemaFailure = err; // reported once, by main's catch, after the worker stopped
        stop.abort();
        if (worker?.getState() === 'RUNNING') worker.shutdown();
      });
    }
    await Promise.all([
      connectWithRetry(() => deps.shards.connectOne(deps.shards.home), {
        ...retry,
        dependency: 'postgres',
        isFatal: (err) => err instanceof SchemaNotCurrent,
      }),
      connectWithRetry(() => connectTemporal(config), { ...retry, dependency: 'temporal' }).then(
        (c) => (connection = c),
      ),
    ]);

    if (stop.signal.aborted) return;
    const bundlePath =
      config.WORKER_BUNDLE_PATH ?? path.resolve(__dirname, '..', bundleFileName(config.WORKER_BENCH_BASELINE));
    // Temporal may go away again between the check above and the registration: retried like the
    // connection (a failed attempt may leave its idle workflow threads behind: a rare, bounded cost)
    worker = await connectWithRetry(
      () =>
        buildTransferWorker({
          connection: connection!,
          config,
          activities: activitiesFor(deps),
          workflows: { workflowBundle: { codePath: bundlePath } },
          tracing,
        }),
      { ...retry, dependency: 'worker registration' },
    );
    logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, identity: worker.options.identity }, 'worker started');
    const running = worker.run();
    if (stop.signal.aborted && worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  } catch (err) {
    if (!(err instanceof StartupAborted)) throw err;
  } finally {
    await httpServer.close();
    await connection?.close().catch((err: unknown) => logger.warn({ err }, 'could not close the Temporal connection'));
    await deps.close();
    await tracing.shutdown();
    logger.info('worker stopped');
    // eslint-disable-next-line no-unsafe-finally -- the one failure that must end the process with status 1
    if (schemaFailure) throw schemaFailure;
  }
}

main().then(
  // an attempt still in flight when a signal stopped the start-up must not hold the process open
  () => process.exit(0),
  (err: unknown) => {
    // still one JSON line (config errors happen before our logger exists): a config error's message says what to fix
    const fallback = pino({ base: { pid: process.pid, service: 'wallet-worker' } });
    if (err instanceof ConfigError || err instanceof SchemaNotCurrent) fallback.fatal(err.message);
    else fallback.fatal({ err }, 'worker failed');
    process.exit(1);
  },
);
