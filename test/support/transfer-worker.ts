import type { Worker } from '@temporalio/worker';
import type { Config } from '../../config';
import { activitiesFor } from '../../activities';
import type { AccountingPort } from '../../domain/transfers/accounting-port';
import type { TransferDetails } from '../../domain/transfers/transfer';
import type { WorkerMetrics } from '../../observability/metrics';
import type { Tracing } from '../../observability/tracing';
import { buildTransferWorker } from '../../worker/build-worker';
import { BENCH_WORKFLOWS_PATH } from '../../worker/bundle';
import { openActivityDeps } from '../../worker/deps';
import { connectWorkerConnection, workflowBundle } from './env';

export interface RunningWorker {
  worker: Worker;
  /** this worker's Prometheus metrics (deps.metrics) */
  metrics: WorkerMetrics;
  stop(): Promise<void>;
}

/**
 * A real worker in the test process, on real Postgres, Redis and Temporal, polling `config`'s task
 * queue. `accounting` may wrap the built-in book: the accounting system is the one external
 * boundary a test may take down (see SwitchableAccounting).
 */
export async function startTransferWorker(
  config: Config,
  opts: { accounting?: (book: AccountingPort) => AccountingPort; tracing?: Tracing } = {},
): Promise<RunningWorker> {
  const connection = await connectWorkerConnection();
  const deps = await openActivityDeps(config);
  const accounting = opts.accounting ? opts.accounting(deps.accounting) : deps.accounting;
  const worker = await buildTransferWorker({
    connection,
    config,
    activities: activitiesFor({ ...deps, accounting }),
    // the run's prebuilt bundle has the production workflows; a bench worker bundles its own (workflows/bench.ts)
    workflows: config.WORKER_BENCH_BASELINE
      ? { workflowsPath: BENCH_WORKFLOWS_PATH }
      : { workflowBundle: await workflowBundle() },
    tracing: opts.tracing,
  });
  const running = worker.run();
  return {
    worker,
    metrics: deps.metrics,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await deps.close();
    },
  };
}

/** The accounting system as an outside dependency that can go down and come back. */
export class SwitchableAccounting implements AccountingPort {
  available = true;
  constructor(private readonly inner: AccountingPort) {}

  async book(t: TransferDetails): Promise<void> {
    if (!this.available) throw new Error('accounting system unavailable');
    return this.inner.book(t);
  }

  async reverse(t: TransferDetails): Promise<void> {
    if (!this.available) throw new Error('accounting system unavailable');
    return this.inner.reverse(t);
  }
}
