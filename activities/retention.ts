import { heartbeat } from '@temporalio/activity';
import { purgeExpiredIdempotencyRecords } from '../domain/retention';
import type { ActivityDeps } from './deps';

export function retentionActivities({ db, config }: ActivityDeps) {
  return {
    /** Deletes expired idempotency records in small batches; `more` when the run's batch budget ran out first. */
    async purgeIdempotencyRecords(): Promise<{ deleted: number; batches: number; more: boolean }> {
      return purgeExpiredIdempotencyRecords(db, {
        batchSize: config.RETENTION_BATCH_SIZE,
        maxBatches: config.RETENTION_MAX_BATCHES,
        onBatch: (deleted) => heartbeat(deleted),
      });
    },
  };
}
