import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';

/**
 * What goes into the workflow bundle: the workflows and their interceptors (transfer id on every
 * workflow log line; OpenTelemetry for traced transfers). The one definition the prebuilt bundle
 * (scripts/build-workflow-bundle.ts), the tests' bundle (test/global-setup.ts, test/support/env.ts)
 * and a worker bundling from source (buildTransferWorker with workflowsPath) all use, so every
 * worker runs the same code and recorded histories replay against exactly that.
 */
export const WORKFLOWS_PATH = require.resolve('../workflows');
/** The production workflows plus the bench's bare ones (WORKER_BENCH_BASELINE). */
export const BENCH_WORKFLOWS_PATH = require.resolve('../workflows/bench');
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [require.resolve('../workflows/interceptors')];

/** The prebuilt bundles in dist/ (scripts/build-workflow-bundle.ts), by whether the worker registers the bench's workflows. */
export function bundleFileName(bench: boolean): string {
  return bench ? 'workflow-bundle-bench.js' : 'workflow-bundle.js';
}

export function bundleTransferWorkflows(opts: Pick<BundleOptions, 'logger'> & { bench?: boolean } = {}) {
  const { bench = false, ...options } = opts;
  return bundleWorkflowCode({
    workflowsPath: bench ? BENCH_WORKFLOWS_PATH : WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    ...options,
  });
}
