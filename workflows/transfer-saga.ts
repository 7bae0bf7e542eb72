import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  currentUpdateInfo,
  isCancellation,
  log,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type * as activities from '../activities';
import { formatAmount } from '../domain/money';
import { HOLD_CAPTURED } from '../domain/transfers/refusals';
import { isSettled, TERMINAL_STATUSES, type SagaStep, type TransferStatus } from '../domain/transfer-status';
import {
  cancelUpdate,
  retryUpdate,
  transferAnswerUpdate,
  transferStatusQuery,
  TransferStatusKey,
  type AnswerStage,
  type FinanceDecision,
  type FinanceDecisionKind,
  type SagaSettings,
  type TransferFailure,
  type TransferView,
  type TransferWorkflowInput,
} from './contract';
import { describeFailure } from './describe-failure';
import { validateDecision } from './validate-decision';

type Activities = activities.Activities;

/** Ends the forward path; carries the outcome the saga ends with. */
class SagaStop {
  constructor(
    readonly status: 'REJECTED' | 'CANCELLED',
    readonly failure: TransferFailure,
  ) {}
}

const DEFAULT_STEP_MAX_ATTEMPTS = 10;
/**
 * A local activity's backoff longer than this waits on a durable timer instead of in the worker,
 * which would otherwise keep its workflow task open and heartbeat it every few seconds.
 */
const LOCAL_RETRY_THRESHOLD = '10 seconds';

/**
 * Saga v2 (DESIGN §4): reserve → accounting → ledger → notify, each a local activity.
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
 * - Finance decides through validated Updates; the workflow writes the audit row with the decision.
 */
export async function transferSagaV2({ transfer, settings }: TransferWorkflowInput): Promise<TransferView> {
  const amountText = formatAmount(BigInt(transfer.amountMinor), transfer.currency);
  const { workflowId } = workflowInfo();
  const root = CancellationScope.current();
  const view: TransferView = { status: 'PENDING', steps: {}, failure: null, parked: null, decisions: [] };
  /** a decision accepted by its update's validator and not yet applied by the saga */
  let decision: { kind: FinanceDecisionKind; decision: FinanceDecision; updateId: string } | undefined;
  const applied = new Set<string>();

  const snapshot = (): TransferView => structuredCloneView(view);

  setHandler(transferStatusQuery, () => view);
  setHandler(transferAnswerUpdate, async (stage: AnswerStage) => {
    await CancellationScope.nonCancellable(() => condition(() => isSettled(view.status) || (stage === 'reserved' && view.steps.reserve === 'done')));
    return snapshot();
  });
  const decide = (kind: FinanceDecisionKind) => async (d: FinanceDecision) => {
    const updateId = currentUpdateInfo()?.id ?? `${kind}-${view.decisions.length}`;
    decision = { kind, decision: d, updateId };
    await CancellationScope.nonCancellable(() => condition(() => applied.has(updateId) && (kind === 'retry' || TERMINAL_STATUSES.includes(view.status))));
    return snapshot();
  };
  const validator = (d: FinanceDecision) => validateDecision(view, decision !== undefined, d);
  setHandler(retryUpdate, decide('retry'), { validator });
  setHandler(cancelUpdate, decide('cancel'), { validator });

  const bookkeeping = proxyLocalActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    // bookkeeping must land: retried without a budget
    retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
  });

  /** Status to the row (a local activity), then to the search attribute and the query. */
  async function setStatus(status: TransferStatus, failure?: TransferFailure | null, step?: SagaStep) {
    await bookkeeping.recordTransferState({
      transferId: transfer.transferId,
      status,
      failure,
      step,
      stepState: step ? view.steps[step] : undefined,
    });
    moveTo(status, failure);
  }

  /** The row was written by the step's own transaction: mirror it. */
  function moveTo(status: TransferStatus, failure?: TransferFailure | null) {
    view.status = status;
    if (failure !== undefined) view.failure = failure;
    upsertSearchAttributes([{ key: TransferStatusKey, value: status }]);
  }

  const steps = {
    reserve: () => stepActivities(settings, `reserve ${amountText} on wallet ${transfer.fromWalletId}`).reserve(transfer),
    accounting: () => stepActivities(settings, `book ${amountText} in the accounting book`).accounting(transfer),
    ledger: () =>
      stepActivities(settings, `post ${amountText} from ${transfer.fromWalletId} to ${transfer.toWalletId}`).ledger(transfer),
  };
  const after: Record<'reserve' | 'accounting' | 'ledger', TransferStatus> = {
    reserve: 'RESERVED',
    accounting: 'ACCOUNTED',
    ledger: 'POSTED',
  };
  const before: Record<'reserve' | 'accounting' | 'ledger', TransferStatus> = {
    reserve: 'PENDING',
    accounting: 'RESERVED',
    ledger: 'ACCOUNTED',
  };

  /** Runs one step to success; a spent budget parks the transfer until finance decides. */
  async function runStep(step: 'reserve' | 'accounting' | 'ledger'): Promise<void> {
    for (;;) {
      if (root.consideredCancelled) throw workflowCancelled();
      try {
        view.steps[step] = 'running';
        // an attempt, once started, runs to its end: a cancel request waits for it
        await CancellationScope.nonCancellable(steps[step]);
        view.steps[step] = 'done';
        moveTo(after[step]);
        return;
      } catch (err) {
        view.steps[step] = 'failed';
        const business = businessFailure(err);
        if (business) throw new SagaStop(step === 'reserve' ? 'REJECTED' : 'CANCELLED', { step, ...business });
        if (root.consideredCancelled) throw workflowCancelled();
        await park(step, err);
      }
    }
  }

  /** Parks the transfer; returns when finance retries; throws SagaStop on cancel or deadline. */
  async function park(step: 'reserve' | 'accounting' | 'ledger', err: unknown): Promise<void> {
    const since = new Date();
    const deadline = new Date(since.getTime() + settings.parkDeadlineSeconds * 1000);
    const failure = { step, code: 'STEP_RETRIES_EXHAUSTED', reason: describeFailure(err) };
    view.parked = { step, since: since.toISOString(), deadline: deadline.toISOString() };
    await CancellationScope.nonCancellable(() => setStatus('NEEDS_ATTENTION', failure, step));
    log.error('transfer parked: step exhausted its retry budget', { step, reason: failure.reason });
    // cancellable: a cancel request of the workflow ends the wait like finance's cancel
    try {
      await condition(() => decision !== undefined, settings.parkDeadlineSeconds * 1000);
    } finally {
      view.parked = null;
    }
    // a decision accepted in the same instant as the deadline fired still wins: it was accepted
    if (!decision) {
      throw new SagaStop('CANCELLED', {
        step,
        code: 'PARK_DEADLINE_EXCEEDED',
        reason: `not resolved within ${settings.parkDeadlineSeconds}s`,
      });
    }
    const taken = decision;
    // Make the update's acceptance durable before its audit row is written: completing this workflow
    // task (a 1 ms timer) records the acceptance in history. Otherwise a worker dying after the audit
    // row's local activity but before the task completed would leave an audited decision that the
    // workflow, replayed without the update, never applied. (Histories before this patch keep the old order.)
    if (patched(DURABLE_DECISION_PATCH)) await CancellationScope.nonCancellable(() => sleep(1));
    const stop: TransferFailure | null =
      taken.kind === 'cancel'
        ? { step, code: 'CANCELLED_BY_FINANCE', reason: `${taken.decision.actor}: ${taken.decision.reason}` }
        : null;
    const status: TransferStatus = stop ? 'COMPENSATING' : before[step];
    // the audit row and the status change commit together: the trail holds exactly what was applied
    await CancellationScope.nonCancellable(() =>
      bookkeeping.recordFinanceDecision({
        transferId: transfer.transferId,
        workflowId,
        updateId: taken.updateId,
        kind: taken.kind,
        decision: taken.decision,
        parkedStep: step,
        failureCode: failure.code,
        status,
        failure: stop,
      }),
    );
    view.decisions.push({ kind: taken.kind, ...taken.decision, at: new Date().toISOString(), updateId: taken.updateId });
    moveTo(status, stop);
    applied.add(taken.updateId);
    decision = undefined;
    if (stop) throw new SagaStop('CANCELLED', stop);
    log.info('finance retries the parked step', { step, actor: taken.decision.actor });
  }

  let posted = false;
  try {
    await runStep('reserve');
    await runStep('accounting');
    await runStep('ledger');
    posted = true;
  } catch (err) {
    const stop = asSagaStop(err);
    posted = await CancellationScope.nonCancellable(() => compensate(stop));
  }
  if (posted) await CancellationScope.nonCancellable(finish);
  // a decision accepted while the saga ended another way (deadline, workflow cancel) was not applied:
  // its update returns the transfer as it ended
  if (decision) applied.add(decision.updateId);
  // every caller waiting on an update gets its answer before the workflow closes
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  return view;

  /** Undoes what the steps did; returns true when the hold turned out captured (go forward instead). */
  async function compensate(stop: SagaStop): Promise<boolean> {
    if (stop.status === 'REJECTED') {
      // nothing was held (the reserve's transaction rolled back); the tombstone stops a late attempt
      await compensation(`release the hold of ${amountText}`).releaseReserve(transfer);
      await setStatus('REJECTED', stop.failure);
      return false;
    }
    if (view.status !== 'COMPENSATING') await setStatus('COMPENSATING', stop.failure);
    // Ask the books, not this run's memory: a worker that died before recording its local activities'
    // results leaves a history without them, so a cancel replayed from there sees no step as started
    // while the hold, the booking and even the posting exist. Both compensations are idempotent and
    // tombstone what never happened. (Histories from before this patch keep the old decision.)
    const fromTheBooks = patched(COMPENSATE_FROM_THE_BOOKS_PATCH);
    // The hold decides, so it goes first: released, no money can move any more; captured, the ledger
    // posted (an attempt that committed late) and the only way is forward.
    if (fromTheBooks || view.steps.reserve !== undefined) {
      try {
        await compensation(`release the hold of ${amountText}`).releaseReserve(transfer);
        if (view.steps.reserve !== undefined) view.steps.reserve = 'compensated';
      } catch (err) {
        if (!isHoldCaptured(err)) throw err;
        log.warn('the ledger had posted: the transfer goes forward instead of being cancelled', { code: stop.failure.code });
        // a captured hold means every step before it committed, whatever this run saw
        Object.assign(view.steps, { reserve: 'done', accounting: 'done', ledger: 'done' });
        await setStatus('POSTED', null, 'ledger');
        return true;
      }
    }
    if (fromTheBooks || view.steps.accounting !== undefined) {
      await compensation(`reverse the booking of ${amountText}`).reverseAccounting(transfer);
      if (view.steps.accounting !== undefined) view.steps.accounting = 'compensated';
    }
    await setStatus('CANCELLED', stop.failure);
    return false;
  }

  /** Best effort: notify writes COMPLETED in its own transaction; if it gives up, the saga writes it. */
  async function finish() {
    view.steps.notify = 'running';
    try {
      await proxyLocalActivities<Activities>({
        startToCloseTimeout: '30 seconds',
        // ≈ 14 minutes of trying
        retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 20 },
        localRetryThreshold: LOCAL_RETRY_THRESHOLD,
        summary: 'notify sender and receiver',
      }).notify(transfer);
      view.steps.notify = 'done';
      moveTo('COMPLETED');
    } catch (err) {
      view.steps.notify = 'failed';
      log.warn('notification failed; transfer completes anyway', { reason: describeFailure(err) });
      await setStatus('COMPLETED', undefined, 'notify');
    }
  }

  function compensation(summary: string) {
    // compensations must eventually succeed: retried without a budget
    return proxyLocalActivities<Activities>({
      startToCloseTimeout: `${settings.stepAttemptTimeoutSeconds} seconds`,
      retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds', nonRetryableErrorTypes: [HOLD_CAPTURED] },
      summary,
    });
  }
}

/** A finance decision is durably accepted (in history) before it is applied and audited. */
export const DURABLE_DECISION_PATCH = 'durable-decision';

/** Compensation releases the hold and reverses the booking whatever this run saw of the steps (the books decide). */
export const COMPENSATE_FROM_THE_BOOKS_PATCH = 'compensate-from-the-books';

function stepActivities(settings: SagaSettings, summary: string) {
  const options: LocalActivityOptions = {
    startToCloseTimeout: `${settings.stepAttemptTimeoutSeconds} seconds`,
    // the budget of one step: failed attempts only (a worker outage spends none of it)
    retry: {
      initialInterval: '500 milliseconds',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: settings.stepMaxAttempts ?? DEFAULT_STEP_MAX_ATTEMPTS,
    },
    localRetryThreshold: LOCAL_RETRY_THRESHOLD,
    summary,
  };
  return proxyLocalActivities<Activities>(options);
}

function workflowCancelled(): SagaStop {
  return new SagaStop('CANCELLED', { code: 'WORKFLOW_CANCELLED', reason: 'the workflow was cancelled' });
}

/** A cancel request of the workflow itself (e.g. from the Temporal UI) is a cancel like finance's. */
function asSagaStop(err: unknown): SagaStop {
  if (err instanceof SagaStop) return err;
  if (isCancellation(err)) return workflowCancelled();
  throw err;
}

/** The application failure an activity failed with (a local activity's may arrive unwrapped). */
function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure ? failure : undefined;
}

function isHoldCaptured(err: unknown): boolean {
  return applicationFailureOf(err)?.type === HOLD_CAPTURED;
}

/** A non-retryable ApplicationFailure from an activity is a business refusal with a stable code. */
function businessFailure(err: unknown): { code: string; reason: string } | undefined {
  const failure = applicationFailureOf(err);
  const final = failure?.nonRetryable || (err instanceof ActivityFailure && err.retryState === RetryState.NON_RETRYABLE_FAILURE);
  return failure && final ? { code: failure.type ?? 'REFUSED', reason: failure.message } : undefined;
}

function structuredCloneView(v: TransferView): TransferView {
  return {
    ...v,
    steps: { ...v.steps },
    failure: v.failure ? { ...v.failure } : null,
    parked: v.parked ? { ...v.parked } : null,
    decisions: v.decisions.map((d) => ({ ...d })),
  };
}
