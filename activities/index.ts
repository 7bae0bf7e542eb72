import { accountingActivities } from './accounting';
import { baselineActivities } from './baseline';
import type { ActivityDeps } from './deps';
import { ledgerActivities } from './ledger';
import { notifyActivities } from './notify';
import { reserveActivities } from './reserve';
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
  };
}

export type Activities = ReturnType<typeof createActivities>;
