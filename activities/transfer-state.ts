import { applyFinanceDecision, type FinanceDecisionRecord } from '../domain/transfers/finance-decision';
import { changeTransferState, type AppliedStateChange } from '../domain/transfers/records';
import type { TransferStateChange } from '../domain/transfers/transfer';
import { COUNTED_TRANSFER_STATUSES, type CountedTransferStatus, type WorkerMetrics } from '../observability/metrics';
import type { ActivityDeps } from './deps';
import { currentRunId } from './failures';

function counted(status: string): status is CountedTransferStatus {
  return (COUNTED_TRANSFER_STATUSES as readonly string[]).includes(status);
}

/**
 * Counts a transition after its commit, and only the write that moved the row: a retried attempt
 * whose first try committed finds the row terminal (null) or already in the status (no change).
 */
export function countTransition(metrics: WorkerMetrics, applied: AppliedStateChange | null): void {
  if (applied && applied.status !== applied.previousStatus && counted(applied.status)) {
    const duration = applied.finishedAt
      ? (applied.finishedAt.getTime() - applied.createdAt.getTime()) / 1000
      : undefined;
    metrics.transferReached(applied.status, duration);
  }
}

export function transferStateActivities({ db, metrics }: ActivityDeps) {
  return {
    /** Writes a saga status transition to the transfers row (the API's read model). */
    async recordTransferState(change: TransferStateChange): Promise<void> {
      const withRun = { ...change, runId: change.runId ?? currentRunId() };
      // one statement, atomic on its own
      countTransition(metrics, await changeTransferState(db, withRun));
    },
    /** Applies finance's decision: its audit row and its status change, in one transaction. */
    async recordFinanceDecision(record: FinanceDecisionRecord): Promise<void> {
      countTransition(metrics, await applyFinanceDecision(db, record));
    },
  };
}
