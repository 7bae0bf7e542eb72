import { inTransaction } from '../db/sql';
import { applyStateChange } from '../domain/transfers/records';
import type { TransferPayload } from '../workflows/transfer-types';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';

export function accountingActivities({ db, accounting }: ActivityDeps) {
  return {
    /** Step 2: book the transfer in the accounting system (limits enforced there). */
    async accounting(t: TransferPayload): Promise<void> {
      await asActivity(() => accounting.book(toDetails(t)));
      await inTransaction(db, (sql) =>
        applyStateChange(sql, { transferId: t.transferId, status: 'ACCOUNTED', expectedStatus: 'RESERVED', step: 'accounting', stepState: 'done' }),
      );
    },
    /** Compensation of step 2. */
    async reverseAccounting(t: TransferPayload): Promise<void> {
      await asActivity(() => accounting.reverse(toDetails(t)));
      await inTransaction(db, (sql) =>
        applyStateChange(sql, { transferId: t.transferId, step: 'accounting', stepState: 'compensated' }),
      );
    },
  };
}
