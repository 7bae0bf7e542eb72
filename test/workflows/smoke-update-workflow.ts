// Tiny workflows for test/workflows/time-skipping-smoke.test.ts: they prove, on the time-skipping test
// server, the Temporal features the transfer saga relies on (long durable waits, Workflow Update with a
// validator, local activities with retries, cancellation around a non-cancellable local activity).
// Deliberately not part of workflows/ (it must never ship in the production bundle).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';

/** The activities these workflows run as local activities; the test passes stubs. */
export interface SmokeLocalActivities {
  /** fails (ApplicationFailure, retryable) until its `succeedOnAttempt`-th attempt; returns the attempt number */
  flaky(input: { key: string; succeedOnAttempt: number }): Promise<number>;
  /** takes `ms` of real time (an activity-side sleep that a cancellation would interrupt); returns a receipt */
  settle(input: { key: string; ms: number }): Promise<string>;
}

// ------------------------------------------------------------------ approval: durable wait + Update

export interface ApproveInput {
  approver: string;
}

/** Approve the waiting workflow. Rejected by the validator when `approver` is empty or someone already approved. */
export const approveUpdate = defineUpdate<string, [ApproveInput]>('approve');
/** Lets an approved workflow finish (the test holds it open, so a second, racing update meets a running workflow). */
export const releaseSignal = defineSignal('release');
export const approvalStateQuery = defineQuery<ApprovalState>('approvalState');

export interface ApprovalState {
  approvedBy: string | undefined;
  released: boolean;
}

export interface ApprovalInput {
  /** how long to wait for an approval: '72 hours' in the test */
  approvalTimeout: Duration;
  /** after an approval, wait for releaseSignal before finishing (default: finish at once) */
  holdUntilReleased?: boolean;
}

export interface ApprovalResult {
  approved: boolean;
  approvedBy: string | undefined;
  /** workflow time (server time) spent waiting, in ms */
  waitedMs: number;
}

export async function approvalWorkflow(input: ApprovalInput): Promise<ApprovalResult> {
  let approvedBy: string | undefined;
  let released = !input.holdUntilReleased;

  setHandler(
    approveUpdate,
    async ({ approver }) => {
      // set synchronously, before any await: the validator of an update delivered right after this one
      // (same workflow task or a later one) already sees it and refuses
      approvedBy = approver;
      await condition(() => released);
      return `approved by ${approver}`;
    },
    {
      validator: ({ approver }) => {
        // read-only, like every validator: a rejected update leaves no trace in the history,
        // so anything it changed would be gone on replay
        if (!approver) throw new Error('approver is required');
        if (approvedBy !== undefined) throw new Error(`already approved by ${approvedBy}`);
      },
    },
  );
  setHandler(releaseSignal, () => {
    released = true;
  });
  setHandler(approvalStateQuery, () => ({ approvedBy, released }));

  const startedAt = Date.now();
  const approved = await condition(() => approvedBy !== undefined, input.approvalTimeout);
  const waitedMs = Date.now() - startedAt;
  await condition(() => released && allHandlersFinished());
  return { approved, approvedBy, waitedMs };
}

// ------------------------------------------------------------------ local activities with retries

export interface RetryInput {
  key: string;
  maximumAttempts: number;
  succeedOnAttempt: number;
}

export type RetryResult =
  | { ok: true; attempt: number }
  | {
      ok: false;
      /** the class of what the local activity call threw */
      thrown: string;
      /** the ApplicationFailure the activity threw: `thrown` itself, or its cause when wrapped in an ActivityFailure */
      type: string | undefined;
      message: string;
    };

/**
 * Calls `flaky` as a local activity with `maximumAttempts`. When the attempts are exhausted, reports what
 * the call threw. NB (TS SDK 1.24 / sdk-core, any server): an exhausted local activity throws the activity's
 * own ApplicationFailure, NOT an ActivityFailure wrapping it as a (remote) activity does; the marker in the
 * history carries the bare failure (sdk-core issue 449). Handle both shapes.
 */
export async function localActivityRetries(input: RetryInput): Promise<RetryResult> {
  const { flaky } = proxyLocalActivities<SmokeLocalActivities>({
    startToCloseTimeout: '5 seconds',
    // a local activity's retries are timed by the worker in real time: keep the backoff short
    retry: { maximumAttempts: input.maximumAttempts, initialInterval: '20 ms', backoffCoefficient: 1 },
  });
  try {
    return { ok: true, attempt: await flaky({ key: input.key, succeedOnAttempt: input.succeedOnAttempt }) };
  } catch (err) {
    const failure = err instanceof ActivityFailure ? err.cause : err;
    if (!(failure instanceof ApplicationFailure)) throw err;
    return { ok: false, thrown: (err as Error).name, type: failure.type ?? undefined, message: failure.message };
  }
}

// ------------------------------------------------------------------ cancellation around a local activity

export interface SettleInput {
  key: string;
  ms: number;
}

export interface CancelObservation {
  /** the workflow's cancellation was delivered (root scope cancelled) while `settle` was still running */
  cancelSeenWhileSettling: boolean;
  settled: boolean;
}

/** Answers on the closed workflow too (the worker replays its history). */
export const cancelObservationQuery = defineQuery<CancelObservation>('cancelObservation');

/**
 * Runs `settle` as a local activity in a non-cancellable scope, then waits (cancellably) for up to 72 hours.
 * Cancelled while `settle` runs: `settle` completes all the same, and the workflow sees the cancellation
 * at its next cancellable await, runs `settle` once more as compensation (non-cancellable) and ends CANCELLED.
 */
export async function settleThenObserveCancel(input: SettleInput): Promise<string> {
  const { settle } = proxyLocalActivities<SmokeLocalActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 1 },
  });
  const seen: CancelObservation = { cancelSeenWhileSettling: false, settled: false };
  setHandler(cancelObservationQuery, () => seen);
  CancellationScope.current().cancelRequested.catch(() => {
    seen.cancelSeenWhileSettling = !seen.settled;
  });

  const receipt = await CancellationScope.nonCancellable(() => settle({ key: input.key, ms: input.ms }));
  seen.settled = true;
  try {
    await condition(() => false, '72 hours');
    return receipt;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(() => settle({ key: `${input.key}:compensate`, ms: 0 }));
    throw err;
  }
}
