import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Store } from '../../db/store';
import { v5 as uuidv5 } from 'uuid';
import type { Config } from '../../config';
import type { AuditActor } from '../../domain/audit';
import { DomainError } from '../../domain/errors';
import { getTransfer, type TransferRecord } from '../../domain/transfers/records';
import { cancelUpdate, retryUpdate, TRANSFER_NOT_PARKED } from '../../workflows/contract';
import { ApiError, grpcStatusOf } from '../errors';
import { isAnswerTimeout } from './start-transfer';

export type DecisionOutcome = 'applied' | 'accepted';

// Fixed: changing it would change every derived Update id (and so the dedupe of decisions in flight).
const DECISION_NAMESPACE = '3d9a7c41-52e8-4f6b-9a0d-7e1c2b5f8a34';

/**
 * The Workflow Update id of a decision, a pure function of (caller, Idempotency-Key): a decision
 * re-sent with its key is the same Update, which Temporal itself dedupes (and answers with the first
 * one's outcome), and the saga's audit row is keyed by it, so it is written once.
 */
export function decisionUpdateIdFor(callerId: string, idempotencyKey: string): string {
  return `decision-${uuidv5(`${callerId}\u0000${idempotencyKey}`, DECISION_NAMESPACE)}`;
}

/**
 * Finance's two levers on a parked saga, sent as Workflow Updates: the workflow's validator refuses a
 * decision unless the transfer is parked and no other decision is being applied (the same validation
 * holds from the CLI and the Temporal UI), and the workflow writes the audit row in the transaction
 * that applies the decision, so the trail holds what was decided, never a decision that was dropped.
 *
 * `applied`: the decision took effect (retry: the step runs again; cancel: the transfer is
 * CANCELLED). `accepted`: the saga accepted it (durably) but had not applied it within the wait.
 * `replayed`: this Update (`updateId`) had been taken before, e.g. by a request whose answer was lost:
 * its outcome is the answer, not a refusal of the transfer that it moved on.
 */
export async function decideParkedTransfer(
  deps: { db: Store; temporal: Client; config: Config },
  transferId: string,
  kind: 'retry' | 'cancel',
  reason: string,
  who: AuditActor,
  updateId: string,
): Promise<{ outcome: DecisionOutcome; replayed: boolean; transfer: TransferRecord }> {
  const transfer = await getTransfer(deps.db, transferId);
  const handle = deps.temporal.workflow.getHandle(transfer.workflowId);
  const deadline = Date.now() + deps.config.TRANSFER_ANSWER_TIMEOUT_SECONDS * 1000;
  // The saga writes NEEDS_ATTENTION before it waits for a decision: any other status is refused at once,
  // without waiting on a workflow that may have no worker (that wait could only end in a 503). The
  // workflow's validator stays the authority for a parked one (two people deciding at once).
  if (transfer.status !== 'NEEDS_ATTENTION') {
    const earlier = await earlierOutcome(deps.temporal, handle, updateId, deadline);
    if (earlier) return { outcome: earlier, replayed: true, transfer: await getTransfer(deps.db, transferId) };
    throw new DomainError(
      'TRANSFER_NOT_PARKED',
      `the transfer is not waiting for a decision: it is ${transfer.status}`,
      {
        status: transfer.status,
      },
    );
  }
  const decision = { actor: who.actor, reason, roles: [...who.roles], requestId: who.requestId };
  let outcome: DecisionOutcome;
  try {
    const update = await deps.temporal.withDeadline(deadline, () =>
      handle.startUpdate(kind === 'retry' ? retryUpdate : cancelUpdate, {
        args: [decision],
        waitForStage: 'ACCEPTED',
        updateId,
      }),
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
        'the saga did not take the decision in time (are the workers running?); nothing is confirmed: send the same request with the same Idempotency-Key again',
      );
    }
    throw err;
  }
  return { outcome, replayed: false, transfer: await getTransfer(deps.db, transferId) };
}

/**
 * The outcome of Update `updateId` if the saga took it before (asked of the Temporal server alone: it
 * needs no worker), or null if it never did. A rejected Update leaves no trace, so it is null too.
 */
async function earlierOutcome(
  temporal: Client,
  handle: WorkflowHandle,
  updateId: string,
  deadline: number,
): Promise<DecisionOutcome | null> {
  try {
    await temporal.withDeadline(deadline, () => handle.getUpdateHandle(updateId).result());
    return 'applied';
  } catch (err) {
    if (isAnswerTimeout(err)) return 'accepted';
    if (isUpdateNotFound(err) || err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** gRPC NOT_FOUND (5): no Update of that id in the workflow's history. */
function isUpdateNotFound(err: unknown): boolean {
  return grpcStatusOf(err) === 5;
}

function isRefusal(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === TRANSFER_NOT_PARKED
  );
}

function refusalMessage(err: unknown, status: string): string {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) return err.cause.message;
  return `the transfer is not waiting for a decision: it is ${status}`;
}
