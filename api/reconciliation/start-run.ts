import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Store } from '../../db/store';
import type { Config } from '../../config';
import type { AuditActor } from '../../domain/audit';
import { DomainError } from '../../domain/errors';
import { beginManualRun, failRun, findRun, type ReconciliationRun } from '../../domain/reconciliation/runs';
import { reconciliationWorkflow } from '../../workflows/reconciliation';
import { ApiError } from '../errors';

/** How long the API waits for Temporal to accept the start. */
const START_DEADLINE_MS = 5000;

/**
 * A manual reconciliation run: the workflow the Schedule runs, under `reconciliation-manual-<runId>`.
 * Its row and its audit row commit in one transaction BEFORE the workflow is started, so no run can
 * take effect unaudited: a database that fails here answers 503 with nothing started and nothing
 * written (the workflow's own first activity writes the same row idempotently). If Temporal then
 * refuses the start, the run is recorded as failed (its audit row stays: the trail is append-only)
 * and the answer is 503; a 202 means the run is audited and under way.
 */
export async function startReconciliationRun(
  deps: { db: Store; temporal: Client; config: Config },
  actor: AuditActor,
  reason: string,
): Promise<ReconciliationRun> {
  const runId = randomUUID();
  const workflowId = `reconciliation-manual-${runId}`;
  const run = { id: runId, workflowId, trigger: 'manual' as const, requestedBy: actor.actor };
  const startedAt = await beginManualRun(deps.db, run, actor, reason);
  try {
    await deps.temporal.withDeadline(Date.now() + START_DEADLINE_MS, () =>
      deps.temporal.workflow.start(reconciliationWorkflow, {
        workflowId,
        taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
        args: [{ trigger: 'manual', runId, requestedBy: actor.actor, pageSize: deps.config.RECONCILIATION_PAGE_SIZE }],
        staticSummary: `Reconciliation run requested by ${actor.actor}`,
        staticDetails: `Reason: ${reason}\n\nResults: GET /v1/reconciliation/runs/${runId}`,
      }),
    );
  } catch {
    // Best effort: should this write fail too, the row stays `running` with no workflow behind it.
    // If Temporal did start it after all (an answer lost), the run finishes and says so.
    await failRun(
      deps.db,
      runId,
      'the workflow could not be started (Temporal unavailable); nothing was checked',
    ).catch(() => undefined);
    throw new ApiError(
      'SERVICE_UNAVAILABLE',
      `the reconciliation run could not be started (recorded as failed: /v1/reconciliation/runs/${runId}); retry later`,
    );
  }
  // the answer is built from what was committed: it needs no second read of a database that may be failing
  return {
    ...run,
    status: 'running',
    failure: null,
    checked: {},
    discrepancyCounts: {},
    discrepancies: 0,
    repaired: 0,
    startedAt,
    finishedAt: null,
  };
}

export async function getRun(db: Store, id: string) {
  const run = await findRun(db, id);
  if (!run) throw new DomainError('RECONCILIATION_RUN_NOT_FOUND', `reconciliation run ${id} not found`);
  return run;
}
