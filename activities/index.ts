import { accountingActivities } from './accounting';
import { baselineActivities } from './baseline';
import { crossShardActivities } from './cross-shard';
import type { ActivityDeps } from './deps';
import { ledgerActivities } from './ledger';
import { notifyActivities } from './notify';
import { reconcileTemporalActivities } from './reconcile-temporal';
import { reconciliationActivities } from './reconciliation';
import { reserveActivities } from './reserve';
import { retentionActivities } from './retention';
import { transferStateActivities } from './transfer-state';

export type { ActivityDeps } from './deps';

/** The activities a production worker registers, built over its own connections (samples-typescript style). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...reserveActivities(deps),
    ...accountingActivities(deps),
    ...ledgerActivities(deps),
    ...crossShardActivities(deps),
    ...notifyActivities(deps),
    ...transferStateActivities(deps),
    ...reconciliationActivities(deps),
    ...reconcileTemporalActivities(deps),
    ...retentionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** A worker with WORKER_BENCH_BASELINE=true: the production activities and the bench's no-op one (workflows/bench.ts). */
export function createBenchActivities(deps: ActivityDeps) {
  return { ...createActivities(deps), ...baselineActivities() };
}

/** What a worker registers under its settings. */
export function activitiesFor(deps: ActivityDeps): Activities {
  return deps.config.WORKER_BENCH_BASELINE ? createBenchActivities(deps) : createActivities(deps);
}

/** What the transfer saga calls (stubbed by the time-skipping tests): everything but the scheduled jobs'. */
export type TransferSagaActivities = Omit<
  Activities,
  | keyof ReturnType<typeof reconciliationActivities>
  | keyof ReturnType<typeof reconcileTemporalActivities>
  | keyof ReturnType<typeof retentionActivities>
>;
