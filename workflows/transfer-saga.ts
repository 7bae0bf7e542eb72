import {
  allHandlersFinished,
  CancellationScope,
  condition,
  log,
  patched,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { formatAmount } from '../domain/money';
import { isSettled, type SagaStep, type TransferStatus } from '../domain/transfer-status';
import {
  transferAnswerUpdate,
  transferStatusQuery,
  TransferStatusKey,
  type AnswerStage,
  type SagaSettings,
  type TransferFailure,
  type TransferPayload,
  type TransferView,
  type TransferWorkflowInput,
} from './contract';
import { FinanceDecisionInbox } from './decision-inbox';
import { describeFailure } from './describe-failure';
import { COMPENSATE_FROM_THE_BOOKS_PATCH, DURABLE_DECISION_PATCH } from './patches';
import { bookkeepingActivities, compensationActivities, notifyActivities, stepActivities } from './saga-activities';
import {
  asSagaStop,
  businessFailure,
  cancelledByFinance,
  deadlineExceeded,
  isHoldCaptured,
  SagaStop,
  stepExhausted,
  workflowCancelled,
} from './saga-failures';
import { newTransferView, snapshotOf } from './transfer-view';

// where the replay test names them
export { COMPENSATE_FROM_THE_BOOKS_PATCH, DURABLE_DECISION_PATCH } from './patches';

/**
 * Saga v2 (docs/architecture.md §4): reserve → accounting → ledger → notify, each a local activity.
 *
 * Cheap on the engine: the four steps and every bookkeeping write run as local activities inside the
 * workflow task that started the saga; each step writes its own status in its own transaction, notify
 * writes COMPLETED in its. A happy transfer costs one workflow task and no activity task. notify is
 * local too because it only writes to our own Postgres and Redis stream (a few ms, idempotent); the
 * stream's consumers do the talking to the outside. A notifier that calls an external provider
 * directly belongs in a regular activity (proxyActivities) — at the price of a second workflow task.
 *
 * Money-safe failure paths:
 * - A step attempt is never cancelled: steps run in non-cancellable scopes, and a cancel request of
 *   the workflow (e.g. from the Temporal UI) takes effect between steps or while parked.
 * - The hold decides: compensation starts by releasing the hold. If a (late) ledger attempt captured
 *   it, the release refuses (HOLD_CAPTURED) and the saga goes forward to COMPLETED; only then is the
 *   accounting booking reversed. So no CANCELLED transfer ever has a journal entry.
 * - A step's budget is its failed attempts; waiting for a worker costs nothing.
 * - Finance decides through validated Updates (decision-inbox.ts); the workflow writes the audit row
 *   with the decision.
 *
 * Where the rest lives: the activity option sets in saga-activities.ts, the failures in
 * saga-failures.ts, the patch ids in patches.ts.
 */
export async function transferSagaV2(input: TransferWorkflowInput): Promise<TransferView> {
  const saga = new TransferSaga(input);
  let posted: boolean;
  try {
    await saga.forward();
    posted = true;
  } catch (err) {
    const stop = asSagaStop(err);
    // the way out finishes even while the workflow is being cancelled; a captured hold turns it forward
    posted = await CancellationScope.nonCancellable(() => saga.compensate(stop));
  }
  if (posted) await CancellationScope.nonCancellable(() => saga.finish());
  return saga.close();
}

type ForwardStep = 'reserve' | 'accounting' | 'ledger';

/** A step's status while it is to run (a retry goes back to it) and once it is done. */
const STATUS: Record<ForwardStep, { before: TransferStatus; after: TransferStatus }> = {
  reserve: { before: 'PENDING', after: 'RESERVED' },
  accounting: { before: 'RESERVED', after: 'ACCOUNTED' },
  ledger: { before: 'ACCOUNTED', after: 'POSTED' },
};

class TransferSaga {
  private readonly transfer: TransferPayload;
  private readonly settings: SagaSettings;
  private readonly amountText: string;
  private readonly root = CancellationScope.current();
  private readonly view = newTransferView();
  private readonly inbox = new FinanceDecisionInbox(this.view);
  private readonly bookkeeping = bookkeepingActivities();

  /** Registers the query and the updates: the status, the API's early answer, finance's decisions. */
  constructor({ transfer, settings }: TransferWorkflowInput) {
    this.transfer = transfer;
    this.settings = settings;
    this.amountText = formatAmount(BigInt(transfer.amountMinor), transfer.currency);
    setHandler(transferStatusQuery, () => this.view);
    setHandler(transferAnswerUpdate, (stage) => this.answer(stage));
    this.inbox.listen();
  }

  /** The forward path; throws SagaStop when the transfer is refused or given up. */
  async forward(): Promise<void> {
    await this.runStep('reserve');
    await this.runStep('accounting');
    await this.runStep('ledger');
  }

  /** Runs one step to success; a spent budget parks the transfer until finance decides. */
  private async runStep(step: ForwardStep): Promise<void> {
    for (;;) {
      if (this.root.consideredCancelled) throw workflowCancelled();
      try {
        this.view.steps[step] = 'running';
        // an attempt, once started, runs to its end: a cancel request waits for it
        await CancellationScope.nonCancellable(() => this.attempt(step));
        this.view.steps[step] = 'done';
        this.moveTo(STATUS[step].after);
        return;
      } catch (err) {
        this.view.steps[step] = 'failed';
        const business = businessFailure(err);
        if (business) throw new SagaStop(step === 'reserve' ? 'REJECTED' : 'CANCELLED', { step, ...business });
        if (this.root.consideredCancelled) throw workflowCancelled();
        await this.park(step, err);
      }
    }
  }

  /** The step's local activity, with the step's retry budget. */
  private attempt(step: ForwardStep): Promise<unknown> {
    const { transfer, settings, amountText } = this;
    switch (step) {
      case 'reserve':
        return stepActivities(settings, `reserve ${amountText} on wallet ${transfer.fromWalletId}`).reserve(transfer);
      case 'accounting':
        return stepActivities(settings, `book ${amountText} in the accounting book`).accounting(transfer);
      case 'ledger':
        return stepActivities(
          settings,
          `post ${amountText} from ${transfer.fromWalletId} to ${transfer.toWalletId}`,
        ).ledger(transfer);
    }
  }

  /** Parks the transfer; returns when finance retries; throws SagaStop on finance's cancel or the deadline. */
  private async park(step: ForwardStep, err: unknown): Promise<void> {
    const { parkDeadlineSeconds } = this.settings;
    const since = new Date();
    const deadline = new Date(since.getTime() + parkDeadlineSeconds * 1000);
    const failure = stepExhausted(step, err);
    this.view.parked = { step, since: since.toISOString(), deadline: deadline.toISOString() };
    await CancellationScope.nonCancellable(() => this.setStatus('NEEDS_ATTENTION', failure, step));
    log.error('transfer parked: step exhausted its retry budget', { step, reason: failure.reason });
    const taken = await this.inbox.next(parkDeadlineSeconds * 1000).finally(() => {
      this.view.parked = null;
    });
    if (!taken) throw new SagaStop('CANCELLED', deadlineExceeded(step, parkDeadlineSeconds));
    // Make the update's acceptance durable before its audit row is written: completing this workflow
    // task (a 1 ms timer) records the acceptance in history. Otherwise a worker dying after the audit
    // row's local activity but before the task completed would leave an audited decision that the
    // workflow, replayed without the update, never applied. (Histories before this patch keep the old order.)
    if (patched(DURABLE_DECISION_PATCH)) await CancellationScope.nonCancellable(() => sleep(1));
    const stop = taken.kind === 'cancel' ? cancelledByFinance(step, taken.decision) : null;
    const status: TransferStatus = stop ? 'COMPENSATING' : STATUS[step].before;
    // the audit row and the status change commit together: the trail holds exactly what was applied
    await CancellationScope.nonCancellable(() =>
      this.bookkeeping.recordFinanceDecision({
        transferId: this.transfer.transferId,
        workflowId: workflowInfo().workflowId,
        updateId: taken.updateId,
        kind: taken.kind,
        decision: taken.decision,
        parkedStep: step,
        failureCode: failure.code,
        status,
        failure: stop,
      }),
    );
    this.moveTo(status, stop);
    this.inbox.applied(taken);
    if (stop) throw new SagaStop('CANCELLED', stop);
    log.info('finance retries the parked step', { step, actor: taken.decision.actor });
  }

  /** Undoes what the steps did; returns true when the hold turned out captured (go forward instead). */
  async compensate(stop: SagaStop): Promise<boolean> {
    const { transfer, settings, amountText, view } = this;
    if (stop.status === 'REJECTED') {
      // nothing was held (the reserve's transaction rolled back); the tombstone stops a late attempt
      await compensationActivities(settings, `release the hold of ${amountText}`).releaseReserve(transfer);
      await this.setStatus('REJECTED', stop.failure);
      return false;
    }
    if (view.status !== 'COMPENSATING') await this.setStatus('COMPENSATING', stop.failure);
    // Ask the books, not this run's memory: a worker that died before recording its local activities'
    // results leaves a history without them, so a cancel replayed from there sees no step as started
    // while the hold, the booking and even the posting exist. Both compensations are idempotent and
    // tombstone what never happened. (Histories from before this patch keep the old decision.)
    const fromTheBooks = patched(COMPENSATE_FROM_THE_BOOKS_PATCH);
    // The hold decides, so it goes first: released, no money can move any more; captured, the ledger
    // posted (an attempt that committed late) and the only way is forward.
    if (fromTheBooks || view.steps.reserve !== undefined) {
      try {
        await compensationActivities(settings, `release the hold of ${amountText}`).releaseReserve(transfer);
        if (view.steps.reserve !== undefined) view.steps.reserve = 'compensated';
      } catch (err) {
        if (!isHoldCaptured(err)) throw err;
        log.warn('the ledger had posted: the transfer goes forward instead of being cancelled', {
          code: stop.failure.code,
        });
        // a captured hold means every step before it committed, whatever this run saw
        Object.assign(view.steps, { reserve: 'done', accounting: 'done', ledger: 'done' });
        await this.setStatus('POSTED', null, 'ledger');
        return true;
      }
    }
    if (fromTheBooks || view.steps.accounting !== undefined) {
      await compensationActivities(settings, `reverse the booking of ${amountText}`).reverseAccounting(transfer);
      if (view.steps.accounting !== undefined) view.steps.accounting = 'compensated';
    }
    await this.setStatus('CANCELLED', stop.failure);
    return false;
  }

  /** Best effort: notify writes COMPLETED in its own transaction; if it gives up, the saga writes it. */
  async finish(): Promise<void> {
    this.view.steps.notify = 'running';
    try {
      await notifyActivities().notify(this.transfer);
      this.view.steps.notify = 'done';
      this.moveTo('COMPLETED');
    } catch (err) {
      this.view.steps.notify = 'failed';
      log.warn('notification failed; transfer completes anyway', { reason: describeFailure(err) });
      await this.setStatus('COMPLETED', undefined, 'notify');
    }
  }

  /** Answers every update still waiting before the workflow closes; returns the transfer as it ended. */
  async close(): Promise<TransferView> {
    this.inbox.release();
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    return this.view;
  }

  /** The API's early answer: the transfer once the stage is reached. */
  private async answer(stage: AnswerStage): Promise<TransferView> {
    const { view } = this;
    await CancellationScope.nonCancellable(() =>
      condition(() => isSettled(view.status) || (stage === 'reserved' && view.steps.reserve === 'done')),
    );
    return snapshotOf(view);
  }

  /** Status to the row (a local activity), then to the search attribute and the query. */
  private async setStatus(status: TransferStatus, failure?: TransferFailure | null, step?: SagaStep): Promise<void> {
    await this.bookkeeping.recordTransferState({
      transferId: this.transfer.transferId,
      status,
      failure,
      step,
      stepState: step ? this.view.steps[step] : undefined,
    });
    this.moveTo(status, failure);
  }

  /** The row was written by the step's own transaction (or the activity just called): mirror it. */
  private moveTo(status: TransferStatus, failure?: TransferFailure | null): void {
    this.view.status = status;
    if (failure !== undefined) this.view.failure = failure;
    upsertSearchAttributes([{ key: TransferStatusKey, value: status }]);
  }
}
