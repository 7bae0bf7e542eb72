import { accountingActivities } from './accounting';
import { baselineActivities } from './baseline';
import type { ActivityDeps } from './deps';
import { ledgerActivities } from './ledger';
import { notifyActivities } from './notify';
import { reconcileTemporalActivities } from './reconcile-temporal';
import { reconciliationActivities } from './reconciliation';
import { reserveActivities } from './reserve';
import { retentionActivities } from './retention';
import { transferStateActivities } from './transfer-state';

export type { ActivityDeps } from './deps';

/** The activities a worker registers, built over its own connections (samples-typescript style). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...reserveActivities(deps),
    ...accountingActivities(deps),
    ...ledgerActivities(deps),
    ...notifyActivities(deps),
    ...transferStateActivities(deps),
    ...baselineActivities(),
    ...reconciliationActivities(deps),
    ...reconcileTemporalActivities(deps),
    ...retentionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** What the transfer saga calls (stubbed by the time-skipping tests): everything but the scheduled jobs'. */
export type TransferSagaActivities = Omit<
  Activities,
  keyof ReturnType<typeof reconciliationActivities> | keyof ReturnType<typeof reconcileTemporalActivities> | keyof ReturnType<typeof retentionActivities>
>;
