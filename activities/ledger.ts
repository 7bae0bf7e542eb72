import { postTransfer } from '../domain/transfers/post';
import type { TransferPayload } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';

export function ledgerActivities({ shards, metrics }: ActivityDeps) {
  return {
    /**
     * Step 3 of a same-shard transfer: capture the hold and post sender → receiver, one entry on the
     * transfer's database (no compensation: nothing after it fails for good).
     */
    async ledger(t: TransferPayload): Promise<void> {
      const details = toDetails(t);
      const outcome = await asActivity(() => postTransfer(shards.forTransfer(t.transferId).store, details));
      if (outcome === 'posted') metrics.transferPosted(details.currency, details.amount);
    },
  };
}
