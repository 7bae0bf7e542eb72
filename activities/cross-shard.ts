import { DomainError } from '../domain/errors';
import { creditTransfer, debitTransfer, returnTransfer } from '../domain/transfers/cross-shard';
import { changeTransferState } from '../domain/transfers/records';
import type { TransferPayload } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';
import { countTransition } from './transfer-state';

/**
 * The legs of a cross-shard transfer (domain/transfers/cross-shard.ts), each on the database of its
 * side: the debit and the return on the sender's (the transfer's), the credit on the receiver's.
 */
export function crossShardActivities({ shards, metrics }: ActivityDeps) {
  return {
    /** Step 3: sender → clearing on the sender's shard, ACCOUNTED → DEBITED. The point of no return. */
    async debit(t: TransferPayload): Promise<void> {
      await asActivity(() => debitTransfer(shards.forTransfer(t.transferId).store, toDetails(t)));
    },

    /**
     * Step 4: clearing → receiver on the receiver's shard, then DEBITED → POSTED on the sender's: two
     * idempotent writes on two databases, retried together (a retry finds the credit decided and only
     * moves the row). A refusal by the receiving shard is final (non-retryable, typed by its code).
     */
    async credit(t: TransferPayload): Promise<void> {
      const details = toDetails(t);
      await asActivity(async () => {
        const decided = await creditTransfer(shards.forWallet(t.toWalletId).store, details);
        if (decided.outcome === 'refused') {
          throw new DomainError(decided.code, decided.reason, { walletId: t.toWalletId });
        }
      });
      const moved = await asActivity(() =>
        changeTransferState(shards.forTransfer(t.transferId).store, {
          transferId: t.transferId,
          status: 'POSTED',
          expectedStatus: 'DEBITED',
          step: 'credit',
          stepState: 'done',
        }),
      );
      // counted by the write that moved the row: once, whichever attempt credited
      if (moved?.previousStatus === 'DEBITED') metrics.transferPosted(details.currency, details.amount);
    },

    /** After a refused credit: clearing → sender on the sender's shard, the transfer RETURNED with the refusal. */
    async returnTransfer(t: TransferPayload, failure: { code: string; reason: string }): Promise<void> {
      const { returned } = await asActivity(() =>
        returnTransfer(shards.forTransfer(t.transferId).store, toDetails(t), failure),
      );
      countTransition(metrics, returned);
    },
  };
}
