import {
  isGrpcDeadlineError,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import type { ShardSet } from '../../db/shards';
import type { Config } from '../../config';
import { TransferRefused, TransferRefusedEarly } from '../../domain/errors';
import { ApiError, grpcStatusOf } from '../errors';
import { transferIdFor, workflowIdFor } from '../../domain/ids';
import { shardOfId } from '../../domain/shards';
import {
  findTransfer,
  getTransfer,
  recordTransfer,
  type NewTransfer,
  type TransferRecord,
} from '../../domain/transfers/records';
import { findWallet } from '../../domain/wallets';
import { isRefusalCode } from '../../domain/transfers/refusals';
import { isSettled } from '../../domain/transfer-status';
import { answerUpdateId, transferAnswerUpdate, type AnswerStage } from '../../workflows/contract';
import { transferWorkflow } from '../../workflows/transfer';
import { sagaStart } from '../../domain/transfers/saga-start';

/** How long the API takes to confirm that a saga which did not answer in time exists. */
const SAGA_EXISTS_CHECK_MS = 3000;

/** What a caller asks for; the id and workflow id are derived from (caller, key). */
export type StartTransferCommand = Omit<NewTransfer, 'id' | 'workflowId'>;

export interface TransferDeps {
  shards: ShardSet;
  temporal: Client;
  config: Config;
}

/** The id of the transfer a caller's key names: it carries the sender's logical shard, where its row lives. */
export function transferIdOf(cmd: Pick<StartTransferCommand, 'callerId' | 'idempotencyKey' | 'fromWalletId'>): string {
  return transferIdFor(cmd.callerId, cmd.idempotencyKey, shardOfId(cmd.fromWalletId));
}

/**
 * The receiver, read on its own database (it may be another than the sender's): it must exist, be an
 * active customer wallet and hold the transfer's currency. Otherwise the transfer is refused here, before
 * anything is written (422 with the code, like the saga's refusals): a cross-shard transfer would
 * otherwise debit the sender before the receiving shard could refuse it.
 */
async function assertReceiverAccepts(shards: ShardSet, cmd: StartTransferCommand): Promise<void> {
  const to = cmd.toWalletId;
  const receiver = await findWallet(shards.forWallet(to).store, to);
  if (!receiver) throw new TransferRefusedEarly('WALLET_NOT_FOUND', `wallet ${to} not found`, to);
  if (receiver.status !== 'active') {
    throw new TransferRefusedEarly('WALLET_NOT_ACTIVE', `wallet ${to} is ${receiver.status}`, to);
  }
  if (receiver.currency !== cmd.currency) {
    throw new TransferRefusedEarly(
      'CURRENCY_MISMATCH',
      `wallet ${to} holds ${receiver.currency}, not ${cmd.currency}`,
      to,
    );
  }
}

/**
 * Exactly one saga per transfer (docs/architecture.md §4–5): the transfer id derives from (caller, key, the
 * sender's shard) and the row is written first, on the sender's database. While the row is PENDING the saga's answer is asked for with update-with-start on
 * `transfer-<id>`: USE_EXISTING joins a running saga, REJECT_DUPLICATE never runs a finished one
 * again, and the update's fixed id makes concurrent twins share one update. So a request that crashed
 * anywhere is completed by its retry, which starts the missing workflow or joins it.
 *
 * The answer waits for the reserve decision or, with Prefer: wait=N, for the transfer to settle
 * (finished or parked) within N seconds.
 * Returns the row as the saga left it; a transfer the saga refused is thrown as TransferRefused.
 */
export async function startTransfer(deps: TransferDeps, cmd: StartTransferCommand, opts: { waitSeconds: number }) {
  const stage: AnswerStage = opts.waitSeconds > 0 ? 'settled' : 'reserved';
  const id = transferIdOf(cmd);
  const store = deps.shards.forTransfer(id).store;
  // A replay answers with its transfer whatever became of the receiver since; only a new one is checked.
  if (!(await findTransfer(store, id))) await assertReceiverAccepts(deps.shards, cmd);
  const recorded = await recordTransfer(store, { ...cmd, id, workflowId: workflowIdFor(id) });
  let transfer = recorded.transfer;
  if (stage === 'settled' && !isSettled(transfer.status)) {
    await askTheSaga(deps, transfer, 'settled', opts.waitSeconds);
    transfer = await getTransfer(store, id);
  }
  // without Prefer: wait, or when that wait ran out before the reserve decision: the early answer
  if (transfer.status === 'PENDING') {
    await askTheSaga(deps, transfer, 'reserved', deps.config.TRANSFER_ANSWER_TIMEOUT_SECONDS);
    transfer = await getTransfer(store, id);
  }
  return { transfer, created: recorded.created };
}

/**
 * A transfer the saga refused for a business reason answers 422 with the refusal's code, on the first
 * request and on every replay: REJECTED at reserve, or cancelled by a refusal of a later step
 * (LIMIT_EXCEEDED, a receiver frozen meanwhile). Cancellations by finance, a deadline or the Temporal
 * UI are outcomes of an accepted transfer, not refusals.
 */
export function assertNotRefused(t: TransferRecord): void {
  if ((t.status === 'REJECTED' || t.status === 'CANCELLED') && isRefusalCode(t.failureCode)) {
    throw new TransferRefused(t.failureCode, t.failureReason ?? 'the transfer was refused', t.id);
  }
}

/**
 * Waits for the saga's answer, at most `waitSeconds`. Not having it in time is not an error: the saga
 * runs on (e.g. every worker is down), and the caller gets the transfer as it is.
 */
async function askTheSaga(deps: TransferDeps, t: TransferRecord, stage: AnswerStage, waitSeconds: number) {
  const startWorkflowOperation = new WithStartWorkflowOperation(transferWorkflow, sagaStart(deps.config, t));
  try {
    await deps.temporal.withDeadline(Date.now() + waitSeconds * 1000, () =>
      deps.temporal.workflow.executeUpdateWithStart(transferAnswerUpdate, {
        args: [stage],
        updateId: answerUpdateId(stage),
        startWorkflowOperation,
      }),
    );
  } catch (err) {
    // the saga ran and finished before: the reuse policy refuses a second run, which is the point
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    if (isAnswerTimeout(err) || isUpdateAbandoned(err)) return assertSagaExists(deps, t);
    throw err;
  }
}

/**
 * The server gave up on the update, not the saga: e.g. FAILED_PRECONDITION "unexpected workflow task
 * failure" when the worker running the first workflow task died, or ABORTED. Retrying is right; whether
 * the workflow was started decides between 202 and 503.
 */
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_ABORTED = 10;
function isUpdateAbandoned(err: unknown): boolean {
  return [GRPC_FAILED_PRECONDITION, GRPC_ABORTED].includes(grpcStatusOf(err) ?? -1);
}

/**
 * No answer in time is fine only if the saga exists: a deadline that ran out while the Temporal server
 * was unreachable may have cut the start itself, and a 202 for a transfer no workflow will ever run
 * would leave it PENDING for good. Unknown → 503, so the client retries with the same key (which
 * starts it or joins it).
 */
async function assertSagaExists(deps: TransferDeps, t: TransferRecord): Promise<void> {
  try {
    await deps.temporal.withDeadline(Date.now() + SAGA_EXISTS_CHECK_MS, () =>
      deps.temporal.workflow.getHandle(t.workflowId).describe(),
    );
  } catch {
    throw new ApiError(
      'SERVICE_UNAVAILABLE',
      'the transfer is recorded but its saga could not be confirmed; retry with the same Idempotency-Key',
    );
  }
}

/** The saga did not answer within the caller's deadline (the update's RPC, or the start half of it). */
export function isAnswerTimeout(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err);
}
