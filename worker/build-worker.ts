import os from 'node:os';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import type { Activities } from '../activities';
import { TRACING_OFF, type Tracing } from '../observability/tracing';
import { WORKFLOW_INTERCEPTOR_MODULES } from './bundle';
import { activityInterceptors, workflowSinks } from './interceptors';

export interface TransferWorkerOptions {
  connection: NativeConnection;
  config: Config;
  activities: Activities;
  /** a prebuilt bundle (production: worker/bundle.ts built it with the interceptors) or the workflows source */
  workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>;
  identity?: string;
  /** OpenTelemetry (observability/tracing.ts); off by default */
  tracing?: Tracing;
}

/**
 * One worker on the shared task queue. Any number of these, in any number of processes, may poll
 * the same queue: Temporal hands each task to exactly one of them.
 */
export function buildTransferWorker({
  connection,
  config,
  activities,
  workflows,
  identity,
  tracing = TRACING_OFF,
}: TransferWorkerOptions) {
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...workflows,
    activities,
    interceptors: {
      activity: activityInterceptors(tracing),
      // a prebuilt bundle has them built in (the SDK would warn that it ignores them)
      ...(workflows.workflowBundle ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }),
    },
    sinks: workflowSinks(tracing),
    identity:
      identity ??
      `${process.env.WORKER_ID ? `worker-${process.env.WORKER_ID}` : 'worker'}@${os.hostname()}:${process.pid}`,
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    // on SIGTERM: stop polling, let in-flight activities finish for this long, then cancel them
    shutdownGraceTime: `${config.WORKER_SHUTDOWN_GRACE_SECONDS} seconds`,
  });
}
