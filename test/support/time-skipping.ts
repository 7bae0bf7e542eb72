import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment, type TimeSkippingTestWorkflowEnvironmentOptions } from '@temporalio/testing';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { TRACING_OFF } from '../../observability/tracing';
import { workflowSinks } from '../../worker/interceptors';
import { findTemporalTestServer } from '../../scripts/temporal-cli';
import { quietTemporalRuntime, workflowBundle } from './env';

/**
 * Workflow tests on Temporal's time-skipping test server (the Java SDK's `temporal-test-server`):
 * durable timers and `condition(…, timeout)` fire as soon as nothing else is in progress, so a
 * 72-hour wait takes a fraction of a second while the test awaits `handle.result()`
 * (or `client.workflow.execute`). Time is only skipped while a result is awaited (or by `env.sleep`).
 *
 * Each environment is its own server process, separate from the run's dev server (test/global-setup.ts):
 * no custom search attributes there (see registerSearchAttributes), and one environment's clock is shared by all its workflows, so use
 * one environment per test file and run that file's tests serially (jest's default within a file).
 */

/**
 * Starts a time-skipping test server (the copy scripts/ensure-deps.sh installed, see findTemporalTestServer;
 * otherwise @temporalio/testing downloads one) and connects to it. Call `env.teardown()` in afterAll.
 */
export async function createTimeSkippingEnv(
  opts: Pick<TimeSkippingTestWorkflowEnvironmentOptions, 'client'> & { extraArgs?: string[] } = {},
): Promise<TestWorkflowEnvironment> {
  quietTemporalRuntime();
  const found = findTemporalTestServer();
  return TestWorkflowEnvironment.createTimeSkipping({
    server: {
      executable: found ? { type: 'existing-path', path: found } : undefined,
      extraArgs: opts.extraArgs,
    },
    client: opts.client,
  });
}

/** A task queue name unique to this process (each environment is a server of its own, so no run prefix is needed). */
export function timeSkippingTaskQueue(prefix = 'ts'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface TimeSkippingWorkerOptions {
  /** the (stubbed) activities the workflows under test call, as activities or as local activities */
  activities?: object;
  /**
   * Workflows to bundle from source (e.g. `require.resolve('../workflows/smoke-update-workflow')`), a few
   * seconds of webpack per worker. Default: the run's shared bundle of workflows/ with its interceptors
   * (test/support/env.ts workflowBundle()), built once by global setup.
   */
  workflowsPath?: string;
  /** default: a fresh timeSkippingTaskQueue() — read it back as `worker.options.taskQueue` */
  taskQueue?: string;
  /** anything else for Worker.create (interceptors, sinks, concurrency, …); wins over the defaults here */
  workerOptions?: Partial<
    Omit<WorkerOptions, 'connection' | 'namespace' | 'taskQueue' | 'workflowsPath' | 'workflowBundle'>
  >;
}

/**
 * A worker in this process on `env`'s server. Not running yet: `await worker.runUntil(promise)`
 * (or `worker.run()` + `worker.shutdown()`), the usual @temporalio/worker way.
 * The workflow-side OpenTelemetry exporter sink is registered (as a no-op) like on the real worker,
 * so the shared bundle's interceptors never log an unregistered-sink error.
 */
export async function createTimeSkippingWorker(
  env: TestWorkflowEnvironment,
  opts: TimeSkippingWorkerOptions = {},
): Promise<Worker> {
  const workflows = opts.workflowsPath
    ? { workflowsPath: opts.workflowsPath }
    : { workflowBundle: await workflowBundle() };
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? timeSkippingTaskQueue(),
    ...workflows,
    activities: opts.activities,
    sinks: workflowSinks(TRACING_OFF),
    ...opts.workerOptions,
  });
}

/**
 * Registers custom search attributes on `env`'s test server, which starts without any (unlike the run's dev
 * server, given `transferSearchAttributes` by global setup). The time-skipping server implements
 * OperatorService.AddSearchAttributes (not ListSearchAttributes). Without this, a workflow that upserts an
 * unregistered attribute cannot complete its workflow task on this server (INVALID_ARGUMENT "search attribute
 * TransferStatus is not defined") and retries it at every workflowTaskTimeout, making no progress.
 */
export async function registerSearchAttributes(
  env: TestWorkflowEnvironment,
  keys: readonly { name: string; type: SearchAttributeType }[],
): Promise<void> {
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of keys) searchAttributes[key.name] = INDEXED_VALUE_TYPES[key.type];
  await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes });
}

const INDEXED_VALUE_TYPES: Record<SearchAttributeType, temporal.api.enums.v1.IndexedValueType> = {
  TEXT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** Each event's kind, from the attributes it carries: 'markerRecorded', 'workflowExecutionCancelRequested', … */
export function eventKinds(history: History): string[] {
  return (history.events ?? []).map((e) => {
    const attrs = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e] != null);
    return attrs ? attrs.slice(0, -'EventAttributes'.length) : '?';
  });
}

/**
 * Waits (in real time, polling the history) until the workflow has completed a workflow task after the first
 * `event` (e.g. 'workflowExecutionCancelRequested'): the workflow code has then seen it. While a local activity
 * holds the workflow task open, that happens at the task's heartbeat (80% of workflowTaskTimeout).
 */
export async function waitUntilWorkflowSaw(handle: WorkflowHandle, event: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const kinds = eventKinds(await handle.fetchHistory());
    const at = kinds.indexOf(event);
    if (at >= 0 && kinds.indexOf('workflowTaskCompleted', at) > at) return;
    if (Date.now() > deadline) throw new Error(`the workflow never saw ${event}: ${kinds.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
