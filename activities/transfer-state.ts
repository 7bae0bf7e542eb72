import { inTransaction } from '../db/sql';
import { applyStateChange } from '../domain/transfers/records';
import type { TransferStateChange } from '../domain/transfers/transfer';
import type { ActivityDeps } from './deps';

export function transferStateActivities({ db }: ActivityDeps) {
  return {
    /** Writes a saga status transition to the transfers row (the API's read model). */
    async recordTransferState(change: TransferStateChange): Promise<void> {
      await inTransaction(db, (sql) => applyStateChange(sql, change));
    },
  };
}
