import { log } from '@temporalio/activity';
import { isDomainError } from '../domain/errors';
import { releaseFunds, reserveFunds } from '../domain/transfers/reserve';
import type { TransferPayload } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';

export function reserveActivities({ shards, metrics }: ActivityDeps) {
  return {
    /** Step 1: hold the amount on the sender (the transfer's database: its sender's). */
    async reserve(t: TransferPayload): Promise<void> {
      const outcome = await asActivity(async () => {
        try {
          return await reserveFunds(shards.forTransfer(t.transferId).store, toDetails(t));
        } catch (err) {
          // a refusal is final (non-retryable): counted once per transfer
          if (isDomainError(err) && err.code === 'INSUFFICIENT_FUNDS') metrics.insufficientFunds.inc();
          throw err;
        }
      });
      log.info('reserve', { transferId: t.transferId, outcome });
    },
    /** Compensation of step 1. */
    async releaseReserve(t: TransferPayload): Promise<void> {
      const outcome = await asActivity(() => releaseFunds(shards.forTransfer(t.transferId).store, toDetails(t)));
      log.info('releaseReserve', { transferId: t.transferId, outcome });
    },
  };
}
