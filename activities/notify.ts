import { notifyAcrossShards, notifyParties } from '../domain/transfers/notify';
import type { TransferPayload } from '../workflows/contract';
import type { ActivityDeps } from './deps';
import { asActivity, toDetails } from './failures';
import { countTransition } from './transfer-state';

export function notifyActivities({ shards, redis, metrics }: ActivityDeps) {
  return {
    /**
     * Step 4: record and publish a notification to each party, completing the transfer in the same
     * transaction (best effort: the saga completes the transfer itself if this gives up).
     */
    async notify(t: TransferPayload): Promise<number> {
      const store = shards.forTransfer(t.transferId).store;
      const { published, completed } = await asActivity(() => notifyParties(store, redis, toDetails(t)));
      countTransition(metrics, completed);
      return published;
    },
    /** The last step of a cross-shard transfer: each party told on its own shard, COMPLETED on the sender's. */
    async notifyCrossShard(t: TransferPayload): Promise<number> {
      const sender = shards.forTransfer(t.transferId).store;
      const receiver = shards.forWallet(t.toWalletId).store;
      const { published, completed } = await asActivity(() =>
        notifyAcrossShards(sender, receiver, redis, toDetails(t)),
      );
      countTransition(metrics, completed);
      return published;
    },
  };
}
