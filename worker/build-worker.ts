import os from 'node:os';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import type { Activities } from '../activities';

export interface TransferWorkerOptions {
  connection: NativeConnection;
  config: Config;
  activities: Activities;
  /** a prebuilt bundle (production) or the workflows source (development, tests) */
  workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>;
  identity?: string;
}

/**
 * One worker on the shared task queue. Any number of these, in any number of processes, may poll
 * the same queue: Temporal hands each task to exactly one of them.
 */
export function buildTransferWorker({ connection, config, activities, workflows, identity }: TransferWorkerOptions) {
  return Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...workflows,
    activities,
    identity: identity ?? `${process.env.WORKER_ID ? `worker-${process.env.WORKER_ID}` : 'worker'}@${os.hostname()}:${process.pid}`,
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    // on SIGTERM: stop polling, let in-flight activities finish for this long, then cancel them
    shutdownGraceTime: `${config.WORKER_SHUTDOWN_GRACE_SECONDS} seconds`,
  });
}
