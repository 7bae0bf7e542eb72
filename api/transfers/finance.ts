import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal as temporalProto } from '@temporalio/proto';
import type { ShardSet } from '../../db/shards';
import { v5 as uuidv5 } from 'uuid';
import type { Config } from '../../config';
import type { AuditActor } from '../../domain/audit';
import { DomainError } from '../../domain/errors';
import { getTransfer, type TransferRecord } from '../../domain/transfers/records';
import { cancelUpdate, retryUpdate, TRANSFER_NOT_PARKED } from '../../workflows/contract';
import { ApiError, grpcStatusOf } from '../errors';
import { isAnswerTimeout } from './start-transfer';

export type DecisionOutcome = 'applied' | 'accepted';

/**
 * The failure type of the saga's refusal of a cancel whose debit is posted (its update validator):
 * TRANSFER_NOT_CANCELLABLE, the code the API answers with too.
 */
const NOT_CANCELLABLE = 'TRANSFER_NOT_CANCELLABLE';

/**
 * A cross-shard transfer's debit is posted (its money left the sender's shard): it only goes forward.
 * Parked in the credit step, or with the debit step done, a cancel is refused; a retry is not.
 */
export function debitPosted(t: Pick<TransferRecord, 'failedStep' | 'steps'>): boolean {
  return t.failedStep === 'credit' || t.steps.debit === 'done';
}

const NOT_CANCELLABLE_DETAIL =
  'the debit is posted: the money has left the sender, so the transfer can only go forward; finance may retry it';

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
  deps: { shards: ShardSet; temporal: Client; config: Config },
  transferId: string,
  kind: 'retry' | 'cancel',
  reason: string,
  who: AuditActor,
  updateId: string,
): Promise<{ outcome: DecisionOutcome; replayed: boolean; transfer: TransferRecord }> {
  // the transfer's own database: its sender's, which its id carries
  const store = deps.shards.forTransfer(transferId).store;
  const transfer = await getTransfer(store, transferId);
  const handle = deps.temporal.workflow.getHandle(transfer.workflowId);
  const deadline = Date.now() + deps.config.TRANSFER_ANSWER_TIMEOUT_SECONDS * 1000;
  // The saga writes NEEDS_ATTENTION before it waits for a decision: any other status is refused at once,
  // without waiting on a workflow that may have no worker (that wait could only end in a 503). The
  // workflow's validator stays the authority for a parked one (two people deciding at once).
  if (transfer.status !== 'NEEDS_ATTENTION') {
    const earlier = await earlierOutcome(deps.temporal, handle, updateId, deadline);
    if (earlier) return { outcome: earlier, replayed: true, transfer: await getTransfer(store, transferId) };
    throw new DomainError(
      'TRANSFER_NOT_PARKED',
      `the transfer is not waiting for a decision: it is ${transfer.status}`,
      {
        status: transfer.status,
      },
    );
  }
  if (kind === 'cancel' && debitPosted(transfer)) {
    throw new DomainError('TRANSFER_NOT_CANCELLABLE', NOT_CANCELLABLE_DETAIL, { status: transfer.status });
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
    if (isRefusal(err, NOT_CANCELLABLE)) {
      throw new DomainError('TRANSFER_NOT_CANCELLABLE', refusalMessage(err, NOT_CANCELLABLE_DETAIL));
    }
    if (isRefusal(err) || err instanceof WorkflowNotFoundError) {
      const now = await getTransfer(store, transferId);
      throw new DomainError(
        'TRANSFER_NOT_PARKED',
        refusalMessage(err, `the transfer is not waiting for a decision: it is ${now.status}`),
        { status: now.status },
      );
    }
    if (isAnswerTimeout(err)) {
      throw new ApiError(
        'SERVICE_UNAVAILABLE',
        'the saga did not take the decision in time (are the workers running?); nothing is confirmed: send the same request with the same Idempotency-Key again',
      );
    }
    throw err;
  }
  return { outcome, replayed: false, transfer: await getTransfer(store, transferId) };
}

/**
 * The outcome of Update `updateId` if the saga took it before (asked of the Temporal server alone: it
 * needs no worker), or null if it never did. A rejected Update leaves no trace, so it is null too.
 * First whether Temporal holds the Update at all (an accepted one answers at once): a server that does
 * not answer (killed, restarting) confirms nothing, so that is a 503, never a 202 for a decision that
 * may not exist. Then, for one it holds, its outcome within the deadline (`accepted` while it is applied).
 */
async function earlierOutcome(
  temporal: Client,
  handle: WorkflowHandle,
  updateId: string,
  deadline: number,
): Promise<DecisionOutcome | null> {
  let held;
  try {
    held = await temporal.withDeadline(deadline, () =>
      temporal.workflowService.pollWorkflowExecutionUpdate({
        namespace: temporal.options.namespace,
        updateRef: { workflowExecution: { workflowId: handle.workflowId }, updateId },
        waitPolicy: { lifecycleStage: UPDATE_ACCEPTED },
      }),
    );
  } catch (err) {
    if (isUpdateNotFound(err)) return null;
    if (isAnswerTimeout(err)) throw new ApiError('SERVICE_UNAVAILABLE', TEMPORAL_UNANSWERED);
    throw err;
  }
  // applied already (the usual case of a re-sent decision): the poll's answer carries the outcome
  if (held.outcome?.success) return 'applied';
  try {
    await temporal.withDeadline(deadline, () => handle.getUpdateHandle(updateId).result());
    return 'applied';
  } catch (err) {
    if (isAnswerTimeout(err)) return 'accepted';
    throw err;
  }
}

const UPDATE_ACCEPTED =
  temporalProto.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED;

const TEMPORAL_UNANSWERED =
  'Temporal did not answer in time, so whether this decision was taken is not known; nothing is confirmed: send the same request with the same Idempotency-Key again';

/** gRPC NOT_FOUND (5): no Update of that id in the workflow's history. */
function isUpdateNotFound(err: unknown): boolean {
  return grpcStatusOf(err) === 5;
}

/** The saga's update validator refused the decision with this failure type. */
function isRefusal(err: unknown, type: string = TRANSFER_NOT_PARKED): boolean {
  return err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === type;
}

function refusalMessage(err: unknown, fallback: string): string {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) return err.cause.message;
  return fallback;
}
