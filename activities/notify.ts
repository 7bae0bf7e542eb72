import { notifyParties } from '../domain/transfers/notify';
import type { TransferPayload } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';
import { countTransition } from './transfer-state';

export function notifyActivities({ db, redis, metrics }: ActivityDeps) {
  return {
    /**
     * Step 4: record and publish a notification to each party, completing the transfer in the same
     * transaction (best effort: the saga completes the transfer itself if this gives up).
     */
    async notify(t: TransferPayload): Promise<number> {
      const { published, completed } = await asActivity(() => notifyParties(db, redis, toDetails(t)));
      countTransition(metrics, completed);
      return published;
    },
  };
}
