import { heartbeat } from '@temporalio/activity';
import { purgeExpiredIdempotencyRecords } from '../domain/retention';
import type { ActivityDeps } from './deps';

export function retentionActivities({ shards, config }: ActivityDeps) {
  return {
    /**
     * Deletes expired idempotency records in small batches on every wallet shard database (a record lives
     * on its caller's shard), at most RETENTION_MAX_BATCHES per database, so a backlog on one never starves
     * the others; `more` when some database's budget ran out first.
     */
    async purgeIdempotencyRecords(): Promise<{ deleted: number; batches: number; more: boolean }> {
      const total = { deleted: 0, batches: 0, more: false };
      for (const database of shards.databases) {
        const before = total.deleted;
        const r = await purgeExpiredIdempotencyRecords(database.store, {
          batchSize: config.RETENTION_BATCH_SIZE,
          maxBatches: config.RETENTION_MAX_BATCHES,
          onBatch: (deleted) => heartbeat(before + deleted),
        });
        total.deleted += r.deleted;
        total.batches += r.batches;
        total.more ||= r.more;
      }
      return total;
    },
  };
}
