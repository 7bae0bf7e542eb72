import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Purges expired idempotency records (IDEMPOTENCY_TTL_SECONDS), in small batches, at most
 * RETENTION_MAX_BATCHES per run: a backlog is worked off over the next runs of the retention Schedule.
 */
export async function idempotencyRetentionWorkflow(): Promise<{ deleted: number; batches: number; more: boolean }> {
  const result = await acts.purgeIdempotencyRecords();
  log.info('expired idempotency records purged', result);
  return result;
}
