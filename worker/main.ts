import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import pino from 'pino';
import { loadConfig } from '../config';
import { createActivities } from '../activities';
import { buildTransferWorker } from './build-worker';
import { openActivityDeps } from './deps';

/**
 * Worker process. Loads the workflow bundle prebuilt by `npm run build`, so start-up does not
 * re-bundle. SIGINT/SIGTERM (handled by the Temporal runtime) stop polling and let in-flight
 * activities finish within WORKER_SHUTDOWN_GRACE_SECONDS; then connections are closed.
 */
const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

async function main() {
  const config = loadConfig();
  const logger = pino({
    level: config.LOG_LEVEL,
    base: { service: 'wallet-worker', workerId: process.env.WORKER_ID },
    // Temporal passes failures under `error`: keep their message and stack in the JSON line
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  });
  // Temporal's own logs (worker and core) go through the same pino JSON stream as ours.
  Runtime.install({
    logger: new DefaultLogger(config.LOG_LEVEL === 'silent' ? 'ERROR' : 'INFO', ({ level, message, meta }) =>
      logger[PINO_LEVEL[level]]({ ...meta }, message),
    ),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });

  const deps = await openActivityDeps(config);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const bundlePath = config.WORKER_BUNDLE_PATH ?? path.resolve(__dirname, '../workflow-bundle.js');
  const worker = await buildTransferWorker({
    connection,
    config,
    activities: createActivities(deps),
    workflows: { workflowBundle: { codePath: bundlePath } },
  });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, identity: worker.options.identity }, 'worker started');
  try {
    await worker.run();
  } finally {
    await connection.close();
    await deps.close();
    logger.info('worker stopped');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
