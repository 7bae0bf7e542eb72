import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';

/**
 * What goes into the workflow bundle: the workflows and their interceptors (transfer id on every
 * workflow log line; OpenTelemetry for traced transfers). The one definition the prebuilt bundle
 * (scripts/build-workflow-bundle.ts), the tests' bundle (test/global-setup.ts, test/support/env.ts)
 * and a worker bundling from source (buildTransferWorker with workflowsPath) all use, so every
 * worker runs the same code and recorded histories replay against exactly that.
 */
export const WORKFLOWS_PATH = require.resolve('../workflows');
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [require.resolve('../workflows/interceptors')];

export function bundleTransferWorkflows(opts: Pick<BundleOptions, 'logger'> = {}) {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    ...opts,
  });
}
