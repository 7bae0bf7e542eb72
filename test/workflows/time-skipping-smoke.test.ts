import { Context } from '@temporalio/activity';
import {
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createTimeSkippingEnv, createTimeSkippingWorker } from '../support/time-skipping';
import {
  approvalStateQuery,
  approvalWorkflow,
  approveUpdate,
  cancelObservationQuery,
  localActivityRetries,
  releaseSignal,
  settleThenObserveCancel,
  type SmokeLocalActivities,
} from './smoke-update-workflow';

const HOUR = 3_600_000;

/** What the stubbed local activities saw. */
const flakyAttempts = new Map<string, number>();
const settleRuns: { key: string; startedAt: number; finishedAt?: number; cancelled: boolean }[] = [];
const settleStarted = new Map<string, () => void>();
/** a `settle` whose key is here runs until this promise resolves, instead of for its `ms` */
const settleHolds = new Map<string, Promise<void>>();

const activities: SmokeLocalActivities = {
  async flaky({ key, succeedOnAttempt }) {
    const attempt = (flakyAttempts.get(key) ?? 0) + 1;
    flakyAttempts.set(key, attempt);
    expect(Context.current().info.attempt).toBe(attempt);
    if (attempt < succeedOnAttempt) throw ApplicationFailure.retryable(`attempt ${attempt} failed`, 'Flaky');
    return attempt;
  },
  async settle({ key, ms }) {
    const run: (typeof settleRuns)[number] = { key, startedAt: Date.now(), cancelled: false };
    settleRuns.push(run);
    settleStarted.get(key)?.();
    try {
      // Context.cancelled rejects (and Context.sleep throws) if the activity is cancelled
      await Promise.race([settleHolds.get(key) ?? Context.current().sleep(ms), Context.current().cancelled]);
    } catch (err) {
      run.cancelled = true;
      throw err;
    }
    run.finishedAt = Date.now();
    return `settled ${key}`;
  },
};

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** Each event's kind, from the attributes it carries: 'markerRecorded', 'workflowExecutionCanceled', … */
function eventKinds(history: History): string[] {
  return (history.events ?? []).map((e) => {
    const attrs = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e] != null);
    return attrs ? attrs.slice(0, -'EventAttributes'.length) : '?';
  });
}

describe('time-skipping test server (smoke)', () => {
  let env: TestWorkflowEnvironment;
  let client: Client;
  let worker: Worker;
  let taskQueue: string;
  let running: Promise<void>;
  let n = 0;
  const workflowId = (name: string) => `${name}-${++n}-${Date.now()}`;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    client = env.client;
    worker = await createTimeSkippingWorker(env, {
      workflowsPath: require.resolve('./smoke-update-workflow'),
      activities,
    });
    taskQueue = worker.options.taskQueue;
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await env?.teardown();
  });

  it('skips a 72-hour condition timeout: the workflow times out in seconds of real time', async () => {
    const realStart = Date.now();
    const serverStart = await env.currentTimeMs();
    const result = await client.workflow.execute(approvalWorkflow, {
      taskQueue,
      workflowId: workflowId('timeout'),
      args: [{ approvalTimeout: '72 hours' }],
    });
    expect(result.approved).toBe(false);
    expect(result.approvedBy).toBeUndefined();
    expect(result.waitedMs).toBeGreaterThanOrEqual(72 * HOUR);
    expect((await env.currentTimeMs()) - serverStart).toBeGreaterThanOrEqual(72 * HOUR);
    expect(Date.now() - realStart).toBeLessThan(10_000);
  });

  it('Workflow Update: the validator rejects (nothing changes), then an accepted update returns its result', async () => {
    const handle = await client.workflow.start(approvalWorkflow, {
      taskQueue,
      workflowId: workflowId('update'),
      args: [{ approvalTimeout: '72 hours' }],
    });

    const rejected = await handle.executeUpdate(approveUpdate, { args: [{ approver: '' }] }).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((rejected as WorkflowUpdateFailedError).cause?.message).toBe('approver is required');
    expect(await handle.query(approvalStateQuery)).toEqual({ approvedBy: undefined, released: true });
    expect((await handle.describe()).status.name).toBe('RUNNING');

    await expect(handle.executeUpdate(approveUpdate, { args: [{ approver: 'alice' }] })).resolves.toBe(
      'approved by alice',
    );
    const result = await handle.result();
    expect(result).toMatchObject({ approved: true, approvedBy: 'alice' });
    expect(result.waitedMs).toBeLessThan(HOUR); // time does not jump while the test is not awaiting a result

    // a rejected update leaves no trace in the history; the accepted one does
    const kinds = eventKinds(await handle.fetchHistory());
    expect(kinds.filter((k) => k === 'workflowExecutionUpdateAccepted')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'workflowExecutionUpdateCompleted')).toHaveLength(1);
    expect(kinds.filter((k) => k.startsWith('workflowExecutionUpdate'))).toHaveLength(2);
  });

  it('Workflow Update: of two racing updates exactly one is accepted (the handler sets the flag synchronously)', async () => {
    const handle = await client.workflow.start(approvalWorkflow, {
      taskQueue,
      workflowId: workflowId('race'),
      args: [{ approvalTimeout: '72 hours', holdUntilReleased: true }],
    });

    // both reach a decision (accepted, or rejected by the validator) while the workflow is held open
    const updates = await Promise.all(
      ['bob', 'carol'].map((approver) =>
        handle.startUpdate(approveUpdate, { args: [{ approver }], waitForStage: WorkflowUpdateStage.ACCEPTED }),
      ),
    );
    const { approvedBy } = await handle.query(approvalStateQuery);
    expect(['bob', 'carol']).toContain(approvedBy);

    await handle.signal(releaseSignal);
    const outcomes = await Promise.allSettled(updates.map((u) => u.result()));
    const accepted = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(accepted).toEqual([{ status: 'fulfilled', value: `approved by ${approvedBy}` }]);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.reason).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused[0]?.reason as WorkflowUpdateFailedError).cause?.message).toBe(`already approved by ${approvedBy}`);

    expect(await handle.result()).toMatchObject({ approved: true, approvedBy });
  });

  it('update-with-start: starts the workflow with the update, then reaches the running one (USE_EXISTING)', async () => {
    const id = workflowId('uws');
    const startOp = () =>
      new WithStartWorkflowOperation(approvalWorkflow, {
        taskQueue,
        workflowId: id,
        args: [{ approvalTimeout: '72 hours', holdUntilReleased: true }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });

    const first = startOp();
    const accepted = await client.workflow.startUpdateWithStart(approveUpdate, {
      args: [{ approver: 'dave' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
      startWorkflowOperation: first,
    });
    const handle = await first.workflowHandle();

    const second = startOp();
    const refused = await client.workflow
      .executeUpdateWithStart(approveUpdate, { args: [{ approver: 'erin' }], startWorkflowOperation: second })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toBe('already approved by dave');
    // the same run: USE_EXISTING did not start another one
    expect((await (await second.workflowHandle()).describe()).runId).toBe((await handle.describe()).runId);

    await handle.signal(releaseSignal);
    await expect(accepted.result()).resolves.toBe('approved by dave');
    expect(await handle.result()).toMatchObject({ approved: true, approvedBy: 'dave' });
  });

  it("local activities retry up to maximumAttempts, then throw the activity's ApplicationFailure (not an ActivityFailure)", async () => {
    const okKey = workflowId('la-ok');
    await expect(
      client.workflow.execute(localActivityRetries, {
        taskQueue,
        workflowId: okKey,
        args: [{ key: okKey, maximumAttempts: 3, succeedOnAttempt: 3 }],
      }),
    ).resolves.toEqual({ ok: true, attempt: 3 });
    expect(flakyAttempts.get(okKey)).toBe(3);

    const failKey = workflowId('la-exhausted');
    await expect(
      client.workflow.execute(localActivityRetries, {
        taskQueue,
        workflowId: failKey,
        args: [{ key: failKey, maximumAttempts: 3, succeedOnAttempt: 99 }],
      }),
    ).resolves.toEqual({ ok: false, thrown: 'ApplicationFailure', type: 'Flaky', message: 'attempt 3 failed' });
    expect(flakyAttempts.get(failKey)).toBe(3);
  });

  it('a cancel while a non-cancellable local activity runs: the activity finishes, then the workflow sees the cancellation', async () => {
    const key = workflowId('cancel');
    const started = new Promise<void>((resolve) => settleStarted.set(key, resolve));
    let release!: () => void;
    settleHolds.set(key, new Promise<void>((resolve) => (release = resolve)));
    const handle = await client.workflow.start(settleThenObserveCancel, {
      taskQueue,
      workflowId: key,
      args: [{ key, ms: 0 }],
      // A workflow task held open by a local activity is heartbeaten by the worker at 80% of this timeout:
      // only then do events that arrived meanwhile (the cancel request) reach the workflow. With the
      // default 10 s a shorter local activity finishes before the workflow ever hears of the cancel.
      workflowTaskTimeout: '2 seconds',
    });
    await started;
    await handle.cancel();

    // hold `settle` until the worker has completed a workflow task that carried the cancel request
    const deadline = Date.now() + 20_000;
    for (;;) {
      const kinds = eventKinds(await handle.fetchHistory());
      const requested = kinds.indexOf('workflowExecutionCancelRequested');
      if (requested >= 0 && kinds.indexOf('workflowTaskCompleted', requested) > requested) break;
      if (Date.now() > deadline) throw new Error(`the cancel request never reached the workflow: ${kinds.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const releasedAt = Date.now();
    release();

    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(await handle.query(cancelObservationQuery)).toEqual({ cancelSeenWhileSettling: true, settled: true });

    const [settle, compensate] = [key, `${key}:compensate`].map((k) => settleRuns.find((r) => r.key === k));
    expect(settle).toMatchObject({ cancelled: false });
    expect(settle?.finishedAt).toBeGreaterThanOrEqual(releasedAt);
    expect(compensate).toMatchObject({ cancelled: false });
    expect(compensate?.startedAt).toBeGreaterThanOrEqual(settle?.finishedAt ?? Infinity);

    // in the history: cancel requested, then the settle marker, then the compensation marker, then cancelled
    const kinds = eventKinds(await handle.fetchHistory());
    const cancelRequested = kinds.indexOf('workflowExecutionCancelRequested');
    const markers = kinds.flatMap((k, i) => (k === 'markerRecorded' ? [i] : []));
    expect(markers).toHaveLength(2);
    expect(markers[0]).toBeGreaterThan(cancelRequested);
    expect(kinds.at(-1)).toBe('workflowExecutionCanceled');
  });
});
