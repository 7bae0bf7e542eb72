import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import { HOLD_CAPTURED } from '../domain/transfers/refusals';
import type { SagaStep } from '../domain/transfer-status';
import { STORE_UNAVAILABLE, type FinanceDecision, type TransferFailure } from './contract';
import { describeFailure } from './describe-failure';

/**
 * Ends a saga's forward path; carries the outcome the saga ends with. Caught by the saga itself (it
 * never leaves the workflow): an Error only so that what is thrown is always an Error.
 */
export class SagaStop extends Error {
  override readonly name = 'SagaStop';

  constructor(
    readonly status: 'REJECTED' | 'CANCELLED',
    readonly failure: TransferFailure,
  ) {
    super(`${status}: ${failure.code}`);
  }
}

export function workflowCancelled(): SagaStop {
  return new SagaStop('CANCELLED', { code: 'WORKFLOW_CANCELLED', reason: 'the workflow was cancelled' });
}

/** A cancel request of the workflow itself (e.g. from the Temporal UI) is a cancel like finance's. */
export function asSagaStop(err: unknown): SagaStop {
  if (err instanceof SagaStop) return err;
  if (isCancellation(err)) return workflowCancelled();
  throw err;
}

/** Why a step was parked: its retry budget is spent. */
export function stepExhausted(step: SagaStep, err: unknown): TransferFailure {
  return { step, code: 'STEP_RETRIES_EXHAUSTED', reason: describeFailure(err) };
}

/** Why a parked step was given up: finance did not decide in time. */
export function deadlineExceeded(step: SagaStep, parkDeadlineSeconds: number): TransferFailure {
  return { step, code: 'PARK_DEADLINE_EXCEEDED', reason: `not resolved within ${parkDeadlineSeconds}s` };
}

/** Why a parked step was given up: finance cancelled it. */
export function cancelledByFinance(step: SagaStep, decision: FinanceDecision): TransferFailure {
  return { step, code: 'CANCELLED_BY_FINANCE', reason: `${decision.actor}: ${decision.reason}` };
}

/** The application failure an activity failed with (a local activity's may arrive unwrapped). */
function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure ? failure : undefined;
}

export function isHoldCaptured(err: unknown): boolean {
  return applicationFailureOf(err)?.type === HOLD_CAPTURED;
}

/**
 * The database an activity found unavailable (activities/failures.ts: a STORE_UNAVAILABLE failure), or
 * undefined for any other failure. Only activities of this saga version throw that type: a history
 * recorded before has none (its activities failed with the driver's errors, retried and spent as attempts).
 */
export function storeUnavailableOf(err: unknown): string | undefined {
  const failure = applicationFailureOf(err);
  if (failure?.type !== STORE_UNAVAILABLE) return undefined;
  const store = (failure.details?.[0] as { store?: unknown } | undefined)?.store;
  return typeof store === 'string' ? store : 'unknown';
}

/** A non-retryable ApplicationFailure from an activity is a business refusal with a stable code. */
export function businessFailure(err: unknown): { code: string; reason: string } | undefined {
  const failure = applicationFailureOf(err);
  // non-retryable by the proxies' choice, and not a refusal: the saga waits for the database
  if (failure?.type === STORE_UNAVAILABLE) return undefined;
  const final =
    failure?.nonRetryable || (err instanceof ActivityFailure && err.retryState === RetryState.NON_RETRYABLE_FAILURE);
  return failure && final ? { code: failure.type ?? 'REFUSED', reason: failure.message } : undefined;
}
