import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Store } from '../../db/store';
import type { Config } from '../../config';
import type { AuditActor } from '../../domain/audit';
import { DomainError } from '../../domain/errors';
import { getTransfer } from '../../domain/transfers/records';
import { cancelUpdate, retryUpdate, TRANSFER_NOT_PARKED } from '../../workflows/contract';
import { ApiError } from '../errors';
import { isAnswerTimeout } from './start-transfer';

export type DecisionOutcome = 'applied' | 'accepted';

/**
 * Finance's two levers on a parked saga, sent as Workflow Updates: the workflow's validator refuses a
 * decision unless the transfer is parked and no other decision is being applied (the same validation
 * holds from the CLI and the Temporal UI), and the workflow writes the audit row in the transaction
 * that applies the decision, so the trail holds what was decided, never a decision that was dropped.
 *
 * `applied`: the decision took effect (retry: the step runs again; cancel: the transfer is
 * CANCELLED). `accepted`: the saga accepted it (durably) but had not applied it within the wait.
 */
export async function decideParkedTransfer(
  deps: { db: Store; temporal: Client; config: Config },
  transferId: string,
  kind: 'retry' | 'cancel',
  reason: string,
  who: AuditActor,
) {
  const transfer = await getTransfer(deps.db, transferId);
  // The saga writes NEEDS_ATTENTION before it waits for a decision: any other status is refused at once,
  // without waiting on a workflow that may have no worker (that wait could only end in a 503). The
  // workflow's validator stays the authority for a parked one (two people deciding at once).
  if (transfer.status !== 'NEEDS_ATTENTION') {
    throw new DomainError('TRANSFER_NOT_PARKED', `the transfer is not waiting for a decision: it is ${transfer.status}`, {
      status: transfer.status,
    });
  }
  const handle = deps.temporal.workflow.getHandle(transfer.workflowId);
  const deadline = Date.now() + deps.config.TRANSFER_ANSWER_TIMEOUT_SECONDS * 1000;
  const decision = { actor: who.actor, reason, roles: [...who.roles], requestId: who.requestId };
  let outcome: DecisionOutcome;
  try {
    const update = await deps.temporal.withDeadline(deadline, () =>
      handle.startUpdate(kind === 'retry' ? retryUpdate : cancelUpdate, { args: [decision], waitForStage: 'ACCEPTED' }),
    );
    outcome = await deps.temporal
      .withDeadline(deadline, () => update.result())
      .then((): DecisionOutcome => 'applied')
      .catch((err: unknown) => {
        if (isAnswerTimeout(err)) return 'accepted';
        throw err;
      });
  } catch (err) {
    if (isRefusal(err) || err instanceof WorkflowNotFoundError) {
      const now = await getTransfer(deps.db, transferId);
      throw new DomainError('TRANSFER_NOT_PARKED', refusalMessage(err, now.status), { status: now.status });
    }
    if (isAnswerTimeout(err)) {
      throw new ApiError(
        'SERVICE_UNAVAILABLE',
        'the saga did not take the decision in time (are the workers running?); nothing is confirmed: check the transfer before deciding again',
      );
    }
    throw err;
  }
  return { outcome, transfer: await getTransfer(deps.db, transferId) };
}

function isRefusal(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === TRANSFER_NOT_PARKED
  );
}

function refusalMessage(err: unknown, status: string): string {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) return err.cause.message;
  return `the transfer is not waiting for a decision: it is ${status}`;
}
