import { applyFinanceDecision, type FinanceDecisionRecord } from '../domain/transfers/finance-decision';
import { changeTransferState, type AppliedStateChange } from '../domain/transfers/records';
import type { TransferStateChange } from '../domain/transfers/transfer';
import { COUNTED_TRANSFER_STATUSES, type CountedTransferStatus, type WorkerMetrics } from '../observability/metrics';
import type { ActivityDeps } from './deps';
import { asActivity, currentRunId } from './failures';

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

/** The transfer row and finance's audit rows live on the transfer's database (its sender's shard). */
export function transferStateActivities({ shards, metrics }: ActivityDeps) {
  return {
    /** Writes a saga status transition to the transfers row (the API's read model). */
    async recordTransferState(change: TransferStateChange): Promise<void> {
      const withRun = { ...change, runId: change.runId ?? currentRunId() };
      // one statement, atomic on its own
      const applied = await asActivity(() => changeTransferState(shards.forTransfer(change.transferId).store, withRun));
      countTransition(metrics, applied);
    },
    /** Applies finance's decision: its audit row and its status change, in one transaction. */
    async recordFinanceDecision(record: FinanceDecisionRecord): Promise<void> {
      const applied = await asActivity(() => applyFinanceDecision(shards.forTransfer(record.transferId).store, record));
      countTransition(metrics, applied);
    },
  };
}
