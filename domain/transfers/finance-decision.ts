import type { Store } from '../../db/store';
import { recordAudit } from '../audit';
import type { SagaStep, TransferStatus } from '../transfer-status';
import { applyStateChange, type AppliedStateChange } from './records';
import type { FinanceDecision, FinanceDecisionKind } from './transfer';

/** A finance decision as the saga applies it: the audit row and the status change in one transaction. */
export interface FinanceDecisionRecord {
  transferId: string;
  workflowId: string;
  /** the Workflow Update that carried the decision: the audit row's idempotency key */
  updateId: string;
  kind: FinanceDecisionKind;
  decision: FinanceDecision;
  /** the step that was parked and its failure, for the audit row's details */
  parkedStep: SagaStep;
  failureCode: string | null;
  /** v2: the status the decision moves the transfer to (retry: back to before the step; cancel: COMPENSATING) */
  status?: TransferStatus;
  failure?: { step?: SagaStep; code: string; reason: string } | null;
}

/**
 * Applies finance's decision on a parked transfer as the saga takes it: the audit row and the status
 * change commit together, so the trail holds exactly the decisions the saga applied (whoever sent
 * them: the API, the CLI or the Temporal UI). Idempotent by the Workflow Update id.
 */
export async function applyFinanceDecision(store: Store, d: FinanceDecisionRecord): Promise<AppliedStateChange | null> {
  return store.transaction(async (sql) => {
    await recordAudit(sql, {
      actor: d.decision.actor,
      roles: d.decision.roles ?? [],
      requestId: d.decision.requestId ?? `update:${d.updateId}`,
      action: d.kind === 'retry' ? 'transfer.retry' : 'transfer.cancel',
      targetType: 'transfer',
      targetId: d.transferId,
      reason: d.decision.reason,
      details: { workflowId: d.workflowId, updateId: d.updateId, failedStep: d.parkedStep, failureCode: d.failureCode },
      idempotencyKey: `${d.workflowId}/${d.updateId}`,
    });
    if (!d.status) return null;
    return applyStateChange(sql, {
      transferId: d.transferId,
      status: d.status,
      expectedStatus: 'NEEDS_ATTENTION',
      failure: d.failure,
      step: d.parkedStep,
      stepState: d.kind === 'retry' ? 'running' : 'failed',
    });
  });
}
