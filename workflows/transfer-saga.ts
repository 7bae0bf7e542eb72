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
import { isCrossShard, shardOfId } from '../domain/shards';
import { isSettled, type SagaStep, type TransferStatus } from '../domain/transfer-status';
import {
  transferAnswerUpdate,
  transferStatusQuery,
  TransferStatusKey,
  WaitingOnStoreKey,
  type AnswerStage,
  type SagaSettings,
  type TransferFailure,
  type TransferPayload,
  type TransferRoute,
  type TransferView,
  type TransferWorkflowInput,
} from './contract';
import { FinanceDecisionInbox } from './decision-inbox';
import { describeFailure } from './describe-failure';
import { COMPENSATE_FROM_THE_BOOKS_PATCH, CROSS_SHARD_PATCH, DURABLE_DECISION_PATCH } from './patches';
import { bookkeepingActivities, compensationActivities, notifyActivities, stepActivities } from './saga-activities';
import {
  asSagaStop,
  businessFailure,
  cancelledByFinance,
  deadlineExceeded,
  isHoldCaptured,
  SagaStop,
  stepExhausted,
  storeUnavailableOf,
  workflowCancelled,
} from './saga-failures';
import { newTransferView, snapshotOf } from './transfer-view';

// where the replay test names them
export { COMPENSATE_FROM_THE_BOOKS_PATCH, CROSS_SHARD_PATCH, DURABLE_DECISION_PATCH } from './patches';

/**
 * Saga v2 (docs/architecture.md §4): reserve → accounting → ledger → notify, each a local activity; a
 * transfer between two logical shards (docs/architecture.md §9) posts a debit and a credit on their own
 * shards instead of the ledger entry: reserve → accounting → debit → credit → notify.
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
 * - A step's budget is its failed attempts; waiting for a worker costs nothing, nor does waiting for a
 *   database: an activity that finds its database unavailable returns STORE_UNAVAILABLE at once, and the
 *   saga waits on a durable timer (step 'waiting', search attribute WaitingOnStore) and calls it again.
 * - Cross-shard, the debit is the point of no return: after it the saga only goes forward. The credit is
 *   retried (parked when its budget is spent: finance may retry it, not cancel it; the park deadline
 *   tries it again); a receiving shard that refuses it for good gets the money sent back (RETURNED).
 * - Finance decides through validated Updates (decision-inbox.ts); the workflow writes the audit row
 *   with the decision.
 *
 * Where the rest lives: the activity option sets in saga-activities.ts, the failures in
 * saga-failures.ts, the patch ids in patches.ts.
 */
export async function transferSagaV2(input: TransferWorkflowInput): Promise<TransferView> {
  const saga = new TransferSaga(input);
  let next: Progress;
  try {
    next = await saga.forward();
  } catch (err) {
    const stop = asSagaStop(err);
    // the way out finishes even while the workflow is being cancelled; a captured hold turns it forward
    next = await CancellationScope.nonCancellable(() => saga.compensate(stop));
  }
  // past the debit there is only forward, whatever a cancel request of the workflow says
  if (next === 'debited') next = await CancellationScope.nonCancellable(() => saga.deliver());
  if (next === 'posted') await CancellationScope.nonCancellable(() => saga.finish());
  return saga.close();
}

/** Where the saga stands after a phase: the money posted (notify next), debited (credit next), or the end. */
type Progress = 'posted' | 'debited' | 'ended';

type ForwardStep = 'reserve' | 'accounting' | 'ledger' | 'debit' | 'credit';

/** A step's status while it is to run (a retry goes back to it) and once it is done. */
const STATUS: Record<ForwardStep, { before: TransferStatus; after: TransferStatus }> = {
  reserve: { before: 'PENDING', after: 'RESERVED' },
  accounting: { before: 'RESERVED', after: 'ACCOUNTED' },
  ledger: { before: 'ACCOUNTED', after: 'POSTED' },
  debit: { before: 'ACCOUNTED', after: 'DEBITED' },
  credit: { before: 'DEBITED', after: 'POSTED' },
};

/** Waiting for an unavailable database: the first timer, doubled each time up to the last. */
const FIRST_STORE_WAIT_SECONDS = 1;
const MAX_STORE_WAIT_SECONDS = 30;

class TransferSaga {
  private readonly transfer: TransferPayload;
  private readonly settings: SagaSettings;
  private readonly route: TransferRoute | undefined;
  private readonly amountText: string;
  /** the wallets are on two logical shards (pure: from the ids) */
  private readonly crossShard: boolean;
  /** decided once, at the first point where the paths differ: debit and credit through clearing, or the ledger */
  private legs: boolean | undefined;
  private readonly root = CancellationScope.current();
  private readonly view = newTransferView();
  private readonly inbox = new FinanceDecisionInbox(this.view);
  private readonly bookkeeping = bookkeepingActivities();

  /** Registers the query and the updates: the status, the API's early answer, finance's decisions. */
  constructor({ transfer, settings, route }: TransferWorkflowInput) {
    this.transfer = transfer;
    this.settings = settings;
    this.route = route;
    this.amountText = formatAmount(BigInt(transfer.amountMinor), transfer.currency);
    this.crossShard = isCrossShard(transfer.fromWalletId, transfer.toWalletId);
    setHandler(transferStatusQuery, () => this.view);
    setHandler(transferAnswerUpdate, (stage) => this.answer(stage));
    this.inbox.listen();
  }

  /**
   * Whether the money goes through the shards' clearing accounts. Only a cross-shard transfer asks the
   * patch (a same-shard history never carries its marker); one recorded before it takes the ledger.
   */
  private throughClearing(): boolean {
    this.legs ??= this.crossShard && patched(CROSS_SHARD_PATCH);
    return this.legs;
  }

  /** The forward path up to the money posted (same-shard) or debited (cross-shard); throws SagaStop when refused or given up. */
  async forward(): Promise<Progress> {
    await this.runStep('reserve');
    await this.runStep('accounting');
    if (this.throughClearing()) {
      await this.runStep('debit');
      return 'debited';
    }
    await this.runStep('ledger');
    return 'posted';
  }

  /** Runs one step before the point of no return to success; a spent budget parks the transfer until finance decides. */
  private async runStep(step: ForwardStep): Promise<void> {
    for (;;) {
      if (this.root.consideredCancelled) throw workflowCancelled();
      try {
        this.view.steps[step] = 'running';
        await this.untilStoreAnswers(() => this.attempt(step), step);
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

  /**
   * After the debit (called non-cancellable): the credit until it lands, or until the receiving shard
   * refuses it for good, which sends the money back. Never compensates, never cancels.
   */
  async deliver(): Promise<Progress> {
    for (;;) {
      try {
        this.view.steps.credit = 'running';
        await this.untilStoreAnswers(() => this.attempt('credit'), 'credit');
        this.view.steps.credit = 'done';
        this.moveTo(STATUS.credit.after);
        return 'posted';
      } catch (err) {
        this.view.steps.credit = 'failed';
        const refusal = businessFailure(err);
        if (refusal) {
          await this.giveBack(refusal);
          return 'ended';
        }
        await this.park('credit', err);
      }
    }
  }

  /**
   * Calls an activity until its database answers: a STORE_UNAVAILABLE is waited out on a durable timer
   * (the step 'waiting', the WaitingOnStore search attribute naming the database) and the activity is
   * called again with a fresh budget. An attempt, once started, runs to its end (a cancel request waits
   * for it); the wait between attempts is cancellable where the caller is. Nothing of this runs while
   * every database answers: no timer, no upsert, the command sequence recorded before.
   * (Old histories hold no STORE_UNAVAILABLE failure: their activities never threw that type.)
   */
  private async untilStoreAnswers<T>(call: () => Promise<T>, step?: SagaStep): Promise<T> {
    let waitSeconds = FIRST_STORE_WAIT_SECONDS;
    let waitingOn: string | undefined;
    try {
      for (;;) {
        try {
          return await CancellationScope.nonCancellable(call);
        } catch (err) {
          const store = storeUnavailableOf(err);
          if (store === undefined) throw err;
          if (store !== waitingOn) {
            log.warn('database unavailable: waiting for it', { store, step });
            upsertSearchAttributes([{ key: WaitingOnStoreKey, value: store }]);
            this.view.waitingOn = store;
            waitingOn = store;
          }
          if (step) this.view.steps[step] = 'waiting';
          await sleep(waitSeconds * 1000);
          waitSeconds = Math.min(waitSeconds * 2, MAX_STORE_WAIT_SECONDS);
          if (step) this.view.steps[step] = 'running';
        }
      }
    } finally {
      if (waitingOn !== undefined) {
        upsertSearchAttributes([{ key: WaitingOnStoreKey, value: null }]);
        this.view.waitingOn = null;
      }
    }
  }

  /** `on shard 700 (db-1)`: where a wallet's rows are, for the summaries ops read in the Temporal UI. */
  private onShardOf(walletId: string, database: string | undefined): string {
    return `on shard ${shardOfId(walletId)}${database ? ` (${database})` : ''}`;
  }

  private get senderSide(): string {
    return this.onShardOf(this.transfer.fromWalletId, this.route?.fromDatabase);
  }

  private get receiverSide(): string {
    return this.onShardOf(this.transfer.toWalletId, this.route?.toDatabase);
  }

  private get accountingSide(): string {
    return this.route ? ` (${this.route.accountingDatabase})` : '';
  }

  /** The step's local activity, with the step's retry budget. */
  private attempt(step: ForwardStep): Promise<unknown> {
    const { transfer, settings, amountText } = this;
    const { fromWalletId: from, toWalletId: to } = transfer;
    switch (step) {
      case 'reserve':
        return stepActivities(settings, `reserve ${amountText} on wallet ${from} ${this.senderSide}`).reserve(transfer);
      case 'accounting':
        return stepActivities(settings, `book ${amountText} in the accounting book${this.accountingSide}`).accounting(
          transfer,
        );
      case 'ledger':
        return stepActivities(settings, `post ${amountText} from ${from} to ${to} ${this.senderSide}`).ledger(transfer);
      case 'debit':
        return stepActivities(settings, `debit ${amountText} from wallet ${from} ${this.senderSide}`).debit(transfer);
      case 'credit':
        return stepActivities(settings, `credit ${amountText} to wallet ${to} ${this.receiverSide}`).credit(transfer);
    }
  }

  /**
   * Parks the transfer; returns when finance retries. Before the point of no return, throws SagaStop on
   * finance's cancel or the deadline; a parked credit is only retried (the validator refuses a cancel) and
   * its deadline tries it again.
   */
  private async park(step: ForwardStep, err: unknown): Promise<void> {
    const forwardOnly = step === 'credit';
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
    if (!taken) {
      if (!forwardOnly) throw new SagaStop('CANCELLED', deadlineExceeded(step, parkDeadlineSeconds));
      log.warn('park deadline passed after the debit: the credit is tried again', { step });
      await this.setStatus(STATUS[step].before, null, step);
      return;
    }
    // Make the update's acceptance durable before its audit row is written: completing this workflow
    // task (a 1 ms timer) records the acceptance in history. Otherwise a worker dying after the audit
    // row's local activity but before the task completed would leave an audited decision that the
    // workflow, replayed without the update, never applied. (Histories before this patch keep the old order.)
    if (patched(DURABLE_DECISION_PATCH)) await CancellationScope.nonCancellable(() => sleep(1));
    // past the debit a cancel never passes the validator: whatever arrives there is a retry
    const stop = taken.kind === 'cancel' && !forwardOnly ? cancelledByFinance(step, taken.decision) : null;
    const status: TransferStatus = stop ? 'COMPENSATING' : STATUS[step].before;
    // the audit row and the status change commit together: the trail holds exactly what was applied
    await CancellationScope.nonCancellable(() =>
      this.untilStoreAnswers(() =>
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
      ),
    );
    this.moveTo(status, stop);
    this.inbox.applied(taken);
    if (stop) throw new SagaStop('CANCELLED', stop);
    log.info('finance retries the parked step', { step, actor: taken.decision.actor });
  }

  /**
   * Undoes what the steps did. Returns 'posted' or 'debited' when the hold turned out captured (the
   * ledger or the debit posted: go forward instead), 'ended' otherwise.
   */
  async compensate(stop: SagaStop): Promise<Progress> {
    const { transfer, settings, amountText, view } = this;
    const release = () =>
      this.untilStoreAnswers(() =>
        compensationActivities(settings, `release the hold of ${amountText} ${this.senderSide}`).releaseReserve(
          transfer,
        ),
      );
    if (stop.status === 'REJECTED') {
      // nothing was held (the reserve's transaction rolled back); the tombstone stops a late attempt
      await release();
      await this.setStatus('REJECTED', stop.failure);
      return 'ended';
    }
    if (view.status !== 'COMPENSATING') await this.setStatus('COMPENSATING', stop.failure);
    // Ask the books, not this run's memory: a worker that died before recording its local activities'
    // results leaves a history without them, so a cancel replayed from there sees no step as started
    // while the hold, the booking and even the posting exist. Both compensations are idempotent and
    // tombstone what never happened. (Histories from before this patch keep the old decision.)
    const fromTheBooks = patched(COMPENSATE_FROM_THE_BOOKS_PATCH);
    // The hold decides, so it goes first: released, no money can move any more; captured, the ledger
    // (or the debit) posted (an attempt that committed late) and the only way is forward.
    if (fromTheBooks || view.steps.reserve !== undefined) {
      try {
        await release();
        if (view.steps.reserve !== undefined) view.steps.reserve = 'compensated';
      } catch (err) {
        if (!isHoldCaptured(err)) throw err;
        // a captured hold means every step before it committed, whatever this run saw
        if (this.throughClearing()) {
          log.warn('the debit had posted: the transfer goes forward instead of being cancelled', {
            code: stop.failure.code,
          });
          Object.assign(view.steps, { reserve: 'done', accounting: 'done', debit: 'done' });
          await this.setStatus('DEBITED', null, 'debit');
          return 'debited';
        }
        log.warn('the ledger had posted: the transfer goes forward instead of being cancelled', {
          code: stop.failure.code,
        });
        Object.assign(view.steps, { reserve: 'done', accounting: 'done', ledger: 'done' });
        await this.setStatus('POSTED', null, 'ledger');
        return 'posted';
      }
    }
    if (fromTheBooks || view.steps.accounting !== undefined) {
      await this.reverseBooking();
      if (view.steps.accounting !== undefined) view.steps.accounting = 'compensated';
    }
    await this.setStatus('CANCELLED', stop.failure);
    return 'ended';
  }

  private reverseBooking(): Promise<void> {
    return this.untilStoreAnswers(() =>
      compensationActivities(
        this.settings,
        `reverse the booking of ${this.amountText}${this.accountingSide}`,
      ).reverseAccounting(this.transfer),
    );
  }

  /**
   * The receiving shard refused the credit for good (its wallet frozen, closed, missing): the booking is
   * reversed, then the money goes back to the sender in the return entry, which ends the transfer RETURNED.
   */
  private async giveBack(refusal: { code: string; reason: string }): Promise<void> {
    const { transfer, settings, amountText, view } = this;
    const failure: TransferFailure = { step: 'credit', ...refusal };
    log.warn('the receiving shard refused the credit: the money goes back to the sender', { code: refusal.code });
    view.failure = failure;
    await this.reverseBooking();
    view.steps.accounting = 'compensated';
    await this.untilStoreAnswers(() =>
      compensationActivities(
        settings,
        `return ${amountText} to wallet ${transfer.fromWalletId} ${this.senderSide}`,
      ).returnTransfer(transfer, refusal),
    );
    view.steps.debit = 'compensated';
    this.moveTo('RETURNED', failure);
  }

  /** Best effort: notify writes COMPLETED in its own transaction; if it gives up, the saga writes it. */
  async finish(): Promise<void> {
    this.view.steps.notify = 'running';
    try {
      if (this.throughClearing()) {
        const summary = `notify the sender ${this.senderSide} and the receiver ${this.receiverSide}`;
        await this.untilStoreAnswers(() => notifyActivities(summary).notifyCrossShard(this.transfer), 'notify');
      } else {
        const summary = `notify sender and receiver ${this.senderSide}`;
        await this.untilStoreAnswers(() => notifyActivities(summary).notify(this.transfer), 'notify');
      }
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
    await this.untilStoreAnswers(() =>
      this.bookkeeping.recordTransferState({
        transferId: this.transfer.transferId,
        status,
        failure,
        step,
        stepState: step ? this.view.steps[step] : undefined,
      }),
    );
    this.moveTo(status, failure);
  }

  /** The row was written by the step's own transaction (or the activity just called): mirror it. */
  private moveTo(status: TransferStatus, failure?: TransferFailure | null): void {
    this.view.status = status;
    if (failure !== undefined) this.view.failure = failure;
    upsertSearchAttributes([{ key: TransferStatusKey, value: status }]);
  }
}
