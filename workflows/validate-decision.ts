import { ApplicationFailure } from '@temporalio/workflow';
import {
  INVALID_DECISION,
  TRANSFER_NOT_CANCELLABLE,
  TRANSFER_NOT_PARKED,
  type FinanceDecision,
  type FinanceDecisionKind,
  type TransferView,
} from './contract';

const MAX_REASON_LENGTH = 500;

/** A cross-shard transfer past its point of no return: the debit is posted, the money is on its way. */
function isDebited(view: TransferView): boolean {
  return view.steps.debit === 'done' || view.parked?.step === 'credit';
}

/**
 * The validator of finance's `retry` and `cancel` updates: a refusal is not written to history and
 * the caller (API, CLI, Temporal UI) gets it as the update's failure, with a stable type. `kind` is
 * absent for Saga v1, which has no cross-shard transfers.
 */
export function validateDecision(
  view: TransferView,
  deciding: boolean,
  decision: FinanceDecision,
  kind?: FinanceDecisionKind,
): void {
  // Parked is the status *and* the saga waiting in its inbox: a workflow cancel ends the wait before the
  // compensation moves the status on, and a decision accepted in that window would never be applied.
  if (view.status !== 'NEEDS_ATTENTION' || view.parked === null || deciding) {
    const why = deciding
      ? 'another decision is being applied'
      : view.status === 'NEEDS_ATTENTION'
        ? 'it is being cancelled'
        : `it is ${view.status}`;
    throw ApplicationFailure.create({
      type: TRANSFER_NOT_PARKED,
      message: `the transfer is not waiting for a decision: ${why}`,
      details: [{ status: view.status }],
      nonRetryable: true,
    });
  }
  if (kind === 'cancel' && isDebited(view)) {
    throw ApplicationFailure.create({
      type: TRANSFER_NOT_CANCELLABLE,
      message:
        'the debit is posted: the transfer can only go forward. Retry it once the receiving shard can take the ' +
        'credit; a credit it refuses for good sends the money back to the sender (RETURNED)',
      details: [{ status: view.status, parkedStep: view.parked?.step ?? null }],
      nonRetryable: true,
    });
  }
  const actor = typeof decision?.actor === 'string' ? decision.actor.trim() : '';
  const reason = typeof decision?.reason === 'string' ? decision.reason.trim() : '';
  if (!actor || !reason || reason.length > MAX_REASON_LENGTH) {
    throw ApplicationFailure.create({
      type: INVALID_DECISION,
      message: `a decision needs {"actor": "<who>", "reason": "<why, 1..${MAX_REASON_LENGTH} characters>"}`,
      nonRetryable: true,
    });
  }
}
