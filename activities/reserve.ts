import { log } from '@temporalio/activity';
import { releaseFunds, reserveFunds } from '../domain/transfers/reserve';
import type { TransferPayload } from '../workflows/transfer-types';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';

export function reserveActivities({ db }: ActivityDeps) {
  return {
    /** Step 1: hold the amount on the sender. */
    async reserve(t: TransferPayload): Promise<void> {
      const outcome = await asActivity(() => reserveFunds(db, toDetails(t)));
      log.info('reserve', { transferId: t.transferId, outcome });
    },
    /** Compensation of step 1. */
    async releaseReserve(t: TransferPayload): Promise<void> {
      const outcome = await asActivity(() => releaseFunds(db, toDetails(t)));
      log.info('releaseReserve', { transferId: t.transferId, outcome });
    },
  };
}
