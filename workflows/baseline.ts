import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { baselineActivities as baseline } from '../activities/baseline';

/**
 * Bare workflows for `npm run bench`: not business code, the ceiling a transfer is measured against.
 * They run on the same task queue and workers as the saga, so the difference between a transfer and
 * these is what the saga itself costs (its activities, its workflow tasks), not the server or the box.
 */

type BaselineActivities = ReturnType<typeof baseline>;

// Same timeouts whatever the kind: a no-op never comes near them.
const local = proxyLocalActivities<BaselineActivities>({ startToCloseTimeout: '10 seconds' });
const regular = proxyActivities<BaselineActivities>({ startToCloseTimeout: '10 seconds' });

/** The bench's ceiling: n no-op local activities in sequence (they run within the workflow task). */
export async function baselineLocalActivities(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await local.baselineNoop();
  return n;
}

/** The bench's ceiling: n no-op regular activities in sequence (each one a task, then a workflow task). */
export async function baselineActivities(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await regular.baselineNoop();
  return n;
}
