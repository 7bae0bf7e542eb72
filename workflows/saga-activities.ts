import { proxyLocalActivities } from '@temporalio/workflow';
import type * as activities from '../activities';
import { HOLD_CAPTURED } from '../domain/transfers/refusals';
import { STORE_UNAVAILABLE, type SagaSettings } from './contract';

/**
 * Saga v2's activity option sets. Every activity of the saga is a local activity (docs/architecture.md §4): it runs
 * inside the workflow task, so a happy transfer costs one workflow task and no activity task.
 *
 * STORE_UNAVAILABLE (a database down, or its breaker open) is non-retryable in every set: the call returns
 * at once and the saga waits for that database on a durable timer (transfer-saga.ts untilStoreAnswers),
 * then calls again with a fresh budget. Waiting for a database is not a failed attempt.
 */

type Activities = activities.Activities;

const DEFAULT_STEP_MAX_ATTEMPTS = 10;
/**
 * A local activity's backoff longer than this waits on a durable timer instead of in the worker,
 * which would otherwise keep its workflow task open and heartbeat it every few seconds.
 */
const LOCAL_RETRY_THRESHOLD = '10 seconds';

/** A forward step (reserve, accounting, ledger, debit, credit): its retry budget is its failed attempts. */
export function stepActivities(settings: SagaSettings, summary: string) {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: `${settings.stepAttemptTimeoutSeconds} seconds`,
    // the budget of one step: failed attempts only (a worker outage spends none of it, nor does a database outage)
    retry: {
      initialInterval: '500 milliseconds',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: settings.stepMaxAttempts ?? DEFAULT_STEP_MAX_ATTEMPTS,
      nonRetryableErrorTypes: [STORE_UNAVAILABLE],
    },
    localRetryThreshold: LOCAL_RETRY_THRESHOLD,
    summary,
  });
}

/** Status rows and finance's audit rows. */
export function bookkeepingActivities() {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    // bookkeeping must land: retried without a budget
    retry: {
      initialInterval: '500 milliseconds',
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [STORE_UNAVAILABLE],
    },
  });
}

/**
 * Releasing the hold, reversing the booking, returning a refused credit. A captured hold is an answer,
 * not a failure to retry.
 */
export function compensationActivities(settings: SagaSettings, summary: string) {
  // compensations must eventually succeed: retried without a budget
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: `${settings.stepAttemptTimeoutSeconds} seconds`,
    retry: {
      initialInterval: '500 milliseconds',
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [HOLD_CAPTURED, STORE_UNAVAILABLE],
    },
    summary,
  });
}

/** The notification: best effort, so it has a budget; the transfer completes either way. */
export function notifyActivities(summary: string) {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    // ≈ 14 minutes of trying
    retry: {
      initialInterval: '1 second',
      maximumInterval: '1 minute',
      maximumAttempts: 20,
      nonRetryableErrorTypes: [STORE_UNAVAILABLE],
    },
    localRetryThreshold: LOCAL_RETRY_THRESHOLD,
    summary,
  });
}
