import { inTransaction } from '../db/sql';
import { applyStateChange } from '../domain/transfers/records';
import type { TransferStateChange } from '../domain/transfers/transfer';
import { COUNTED_TRANSFER_STATUSES, type CountedTransferStatus } from '../observability/metrics';
import type { ActivityDeps } from './deps';

function counted(status: string): status is CountedTransferStatus {
  return (COUNTED_TRANSFER_STATUSES as readonly string[]).includes(status);
}

export function transferStateActivities({ db, metrics }: ActivityDeps) {
  return {
    /** Writes a saga status transition to the transfers row (the API's read model). */
    async recordTransferState(change: TransferStateChange): Promise<void> {
      const applied = await inTransaction(db, (sql) => applyStateChange(sql, change));
      // counted after the commit, and only by the write that moved the row: a retried attempt whose
      // first try committed finds the row terminal (null) or already in the status (no change)
      if (applied && applied.status !== applied.previousStatus && counted(applied.status)) {
        const duration = applied.finishedAt ? (applied.finishedAt.getTime() - applied.createdAt.getTime()) / 1000 : undefined;
        metrics.transferReached(applied.status, duration);
      }
    },
  };
}
