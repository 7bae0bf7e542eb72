import { postTransfer } from '../domain/transfers/post';
import type { TransferPayload } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';

export function ledgerActivities({ db, metrics }: ActivityDeps) {
  return {
    /** Step 3: capture the hold and post sender → receiver (no compensation: nothing after it fails for good). */
    async ledger(t: TransferPayload): Promise<void> {
      const details = toDetails(t);
      const outcome = await asActivity(() => postTransfer(db, details));
      if (outcome === 'posted') metrics.transferPosted(details.currency, details.amount);
    },
  };
}
