import { notifyParties } from '../domain/transfers/notify';
import type { TransferPayload } from '../workflows/transfer-types';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';

export function notifyActivities({ db, redis }: ActivityDeps) {
  return {
    /** Step 4: record and publish a notification to each party (best effort; never fails the transfer). */
    async notify(t: TransferPayload): Promise<number> {
      return asActivity(() => notifyParties(db, redis, toDetails(t)));
    },
  };
}
