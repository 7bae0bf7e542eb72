import { ApplicationFailure } from '@temporalio/workflow';
import { INVALID_DECISION, TRANSFER_NOT_PARKED, type FinanceDecision, type TransferView } from './contract';

const MAX_REASON_LENGTH = 500;

/**
 * The validator of finance's `retry` and `cancel` updates: a refusal is not written to history and
 * the caller (API, CLI, Temporal UI) gets it as the update's failure, with a stable type.
 */
export function validateDecision(view: TransferView, deciding: boolean, decision: FinanceDecision): void {
  if (view.status !== 'NEEDS_ATTENTION' || deciding) {
    const why = deciding ? 'another decision is being applied' : `it is ${view.status}`;
    throw ApplicationFailure.create({
      type: TRANSFER_NOT_PARKED,
      message: `the transfer is not waiting for a decision: ${why}`,
      details: [{ status: view.status }],
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
