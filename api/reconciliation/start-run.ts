import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Store } from '../../db/store';
import type { Config } from '../../config';
import type { AuditActor } from '../../domain/audit';
import { DomainError } from '../../domain/errors';
import { beginManualRun, findRun } from '../../domain/reconciliation/runs';
import { reconciliationWorkflow } from '../../workflows/reconciliation';
import { ApiError } from '../errors';

/** How long the API waits for Temporal to accept the start. */
const START_DEADLINE_MS = 5000;

/**
 * A manual reconciliation run: the workflow the Schedule runs, under `reconciliation-manual-<runId>`.
 * Started first, then its row and its audit row in one transaction (the workflow's own first activity
 * writes the same row idempotently): a run that could not start leaves no audit row.
 */
export async function startReconciliationRun(
  deps: { db: Store; temporal: Client; config: Config },
  actor: AuditActor,
  reason: string,
) {
  const runId = randomUUID();
  const workflowId = `reconciliation-manual-${runId}`;
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
    throw new ApiError('SERVICE_UNAVAILABLE', 'the reconciliation run could not be started; retry later');
  }
  await beginManualRun(deps.db, { id: runId, workflowId, trigger: 'manual', requestedBy: actor.actor }, actor, reason);
  return getRun(deps.db, runId);
}

export async function getRun(db: Store, id: string) {
  const run = await findRun(db, id);
  if (!run) throw new DomainError('RECONCILIATION_RUN_NOT_FOUND', `reconciliation run ${id} not found`);
  return run;
}
