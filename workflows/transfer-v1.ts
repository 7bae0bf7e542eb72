import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  currentUpdateInfo,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import { formatAmount } from '../domain/money';
import { TERMINAL_STATUSES, type SagaStep, type TransferStatus } from '../domain/transfer-status';
import {
  cancelUpdate,
  retryUpdate,
  transferStatusQuery,
  TransferStatusKey,
  type FinanceDecision,
  type SagaSettings,
  type TransferFailure,
  type TransferView,
  type TransferWorkflowInput,
} from './contract';
import { describeFailure as describe } from './describe-failure';
import { V1_SIGNALS_RETIRED_PATCH } from './patches';
import { SagaStop } from './saga-failures';
import { validateDecision } from './validate-decision';

type Activities = activities.Activities;

/** v1's finance signals: kept only so that v1 histories that carry them replay; nothing sends them now. */
const retrySignal = defineSignal<[FinanceDecision]>('retry');
const cancelSignal = defineSignal<[FinanceDecision]>('cancel');

/**
 * FROZEN: Saga v1, kept so that workflows started before Saga v2 finish and their histories replay
 * (transferWorkflow runs it when the history has no `saga-v2` patch marker). Do not change its command
 * sequence. The one addition: finance decisions arrive as the same validated Updates as in v2 (new
 * history events only, so recorded v1 histories are unaffected), audited by the workflow.
 *
 * One money transfer as a saga (docs/architecture.md §4): reserve → accounting → ledger → notify.
 * Each compensation is registered before its step runs and they run in reverse order, outside
 * cancellation. A business refusal ends the saga at once; a step whose retry budget is spent
 * parks the transfer (NEEDS_ATTENTION) until finance retries or cancels it, or the deadline passes.
 */
export async function transferSagaV1({ transfer, settings }: TransferWorkflowInput): Promise<TransferView> {
  const amountText = formatAmount(BigInt(transfer.amountMinor), transfer.currency);
  const view: TransferView = { status: 'PENDING', steps: {}, failure: null, parked: null, decisions: [] };
  let pending: { kind: 'retry' | 'cancel'; decision: FinanceDecision } | undefined;

  setHandler(transferStatusQuery, () => view);
  const onDecision = (kind: 'retry' | 'cancel') => (decision: FinanceDecision) => {
    if (view.status !== 'NEEDS_ATTENTION' || pending) {
      log.warn('finance decision ignored: transfer is not parked', { kind, status: view.status, ...decision });
      return;
    }
    pending = { kind, decision };
    view.decisions.push({ kind, ...decision, at: new Date().toISOString() });
  };
  // A signal recorded before Saga v2 replays as it ran; one that arrives now (from the UI or the CLI)
  // is refused, since a signal cannot carry a refusal back nor an audit: decisions are updates now.
  const onSignal = (kind: 'retry' | 'cancel') => (decision: FinanceDecision) => {
    if (patched(V1_SIGNALS_RETIRED_PATCH)) {
      log.warn(`finance signals are retired: send the "${kind}" update instead`, { kind, actor: decision?.actor });
      return;
    }
    onDecision(kind)(decision);
  };
  setHandler(retrySignal, onSignal('retry'));
  setHandler(cancelSignal, onSignal('cancel'));
  let deciding = false;
  const onUpdate = (kind: 'retry' | 'cancel') => async (decision: FinanceDecision) => {
    deciding = true;
    const parkedStep = view.parked?.step ?? 'reserve';
    await bookkeeping.recordFinanceDecision({
      transferId: transfer.transferId,
      workflowId: workflowInfo().workflowId,
      updateId: currentUpdateInfo()?.id ?? `${kind}-${view.decisions.length}`,
      kind,
      decision,
      parkedStep,
      failureCode: view.failure?.code ?? null,
    });
    onDecision(kind)(decision);
    // a cancel of the workflow must not fail the caller's update: it gets the transfer as it ends
    await CancellationScope.nonCancellable(() =>
      condition(() => pending === undefined || TERMINAL_STATUSES.includes(view.status)),
    );
    deciding = false;
    return view;
  };
  const validator = (decision: FinanceDecision) => validateDecision(view, deciding || pending !== undefined, decision);
  setHandler(retryUpdate, onUpdate('retry'), { validator });
  setHandler(cancelUpdate, onUpdate('cancel'), { validator });

  const bookkeeping = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  });

  /** Status goes to the row (by an activity) first, then to the search attribute and the query. */
  async function setStatus(
    status: TransferStatus,
    failure?: TransferFailure | null,
    opts: { step?: SagaStep; expectedStatus?: TransferStatus } = {},
  ) {
    const stepState = opts.step ? view.steps[opts.step] : undefined;
    await bookkeeping.recordTransferState({
      transferId: transfer.transferId,
      status,
      failure,
      step: opts.step,
      stepState,
      expectedStatus: opts.expectedStatus,
    });
    view.status = status;
    if (failure !== undefined) view.failure = failure;
    upsertSearchAttributes([{ key: TransferStatusKey, value: status }]);
  }

  function stepActivities(summary: string, opts: Partial<ActivityOptions> = {}) {
    return proxyActivities<Activities>({ ...stepOptions(settings), ...opts, summary });
  }

  const reserve = () => stepActivities(`reserve ${amountText} on wallet ${transfer.fromWalletId}`).reserve(transfer);
  const accounting = () => stepActivities(`book ${amountText} in the accounting book`).accounting(transfer);
  const ledger = () =>
    stepActivities(`post ${amountText} from ${transfer.fromWalletId} to ${transfer.toWalletId}`).ledger(transfer);

  /** Runs one step; on a spent budget, parks until finance decides. Returns once the step succeeded. */
  async function runStep(step: SagaStep, before: TransferStatus, run: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        view.steps[step] = 'running';
        await run();
        view.steps[step] = 'done';
        return;
      } catch (err) {
        view.steps[step] = 'failed';
        const business = businessFailure(err);
        if (business) {
          throw new SagaStop(step === 'reserve' ? 'REJECTED' : 'CANCELLED', { step, ...business });
        }
        const decision = await park(step, err);
        if (decision.kind === 'cancel') {
          throw new SagaStop('CANCELLED', {
            step,
            code: decision.code,
            reason: decision.reason,
          });
        }
        // back to where the step started, so the step's own compare-and-set write applies again
        await setStatus(before, null, { expectedStatus: 'NEEDS_ATTENTION' });
      }
    }
  }

  async function park(step: SagaStep, err: unknown) {
    const since = new Date();
    const deadline = new Date(since.getTime() + settings.parkDeadlineSeconds * 1000);
    const failure = { step, code: 'STEP_RETRIES_EXHAUSTED', reason: describe(err) };
    view.parked = { step, since: since.toISOString(), deadline: deadline.toISOString() };
    await setStatus('NEEDS_ATTENTION', failure);
    log.error('transfer parked: step exhausted its retry budget', { step, reason: failure.reason });
    const decided = await condition(() => pending !== undefined, settings.parkDeadlineSeconds * 1000);
    const taken = pending;
    pending = undefined;
    view.parked = null;
    if (!decided || !taken) {
      return {
        kind: 'cancel' as const,
        code: 'PARK_DEADLINE_EXCEEDED',
        reason: `not resolved within ${settings.parkDeadlineSeconds}s`,
      };
    }
    if (taken.kind === 'cancel') {
      return {
        kind: 'cancel' as const,
        code: 'CANCELLED_BY_FINANCE',
        reason: `${taken.decision.actor}: ${taken.decision.reason}`,
      };
    }
    log.info('finance retries the parked step', { step, ...taken.decision });
    return { kind: 'retry' as const };
  }

  const compensations: Array<{ step: SagaStep; run: () => Promise<void> }> = [];
  try {
    compensations.unshift({
      step: 'reserve',
      run: () => compensationActivities(`release the hold of ${amountText}`).releaseReserve(transfer),
    });
    await runStep('reserve', 'PENDING', reserve);
    view.status = 'RESERVED';
    upsertSearchAttributes([{ key: TransferStatusKey, value: 'RESERVED' }]);

    compensations.unshift({
      step: 'accounting',
      run: () => compensationActivities(`reverse the booking of ${amountText}`).reverseAccounting(transfer),
    });
    await runStep('accounting', 'RESERVED', accounting);
    view.status = 'ACCOUNTED';
    upsertSearchAttributes([{ key: TransferStatusKey, value: 'ACCOUNTED' }]);

    // From here on the money has moved: no compensation, only forward.
    await runStep('ledger', 'ACCOUNTED', ledger);
    compensations.length = 0;
    view.status = 'POSTED';
    upsertSearchAttributes([{ key: TransferStatusKey, value: 'POSTED' }]);
  } catch (err) {
    const stop = asSagaStop(err);
    // the way out must finish even if the workflow itself is being cancelled
    await CancellationScope.nonCancellable(async () => {
      if (stop.status === 'REJECTED') {
        // nothing was held: the reserve's own transaction rolled back
        await setStatus('REJECTED', stop.failure);
        return;
      }
      await setStatus('COMPENSATING', stop.failure);
      for (const c of compensations) {
        await c.run();
        view.steps[c.step] = 'compensated';
      }
      await setStatus('CANCELLED', stop.failure);
    });
    return view;
  }

  await CancellationScope.nonCancellable(async () => {
    await notify();
    await setStatus('COMPLETED', undefined, { step: 'notify' });
  });
  return view;

  /** Best effort: a notification failure is recorded, never fails or compensates the transfer. */
  async function notify() {
    try {
      view.steps.notify = 'running';
      await stepActivities('notify sender and receiver', {
        scheduleToCloseTimeout: '10 minutes',
        retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 20 },
      }).notify(transfer);
      view.steps.notify = 'done';
    } catch (err) {
      view.steps.notify = 'failed';
      log.warn('notification failed; transfer completes anyway', { reason: describe(err) });
    }
  }

  function compensationActivities(summary: string) {
    // compensations must eventually succeed: retried without a budget
    return proxyActivities<Activities>({
      startToCloseTimeout: '30 seconds',
      retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
      summary,
    });
  }
}

/** A request to cancel the workflow itself (e.g. from the Temporal UI) is a cancel like finance's. */
function asSagaStop(err: unknown): SagaStop {
  if (err instanceof SagaStop) return err;
  if (isCancellation(err)) {
    return new SagaStop('CANCELLED', { code: 'WORKFLOW_CANCELLED', reason: 'the workflow was cancelled' });
  }
  throw err;
}

function stepOptions(settings: SagaSettings): ActivityOptions {
  return {
    startToCloseTimeout: `${settings.stepAttemptTimeoutSeconds} seconds`,
    // the retry budget of one step: when it is spent the step fails and the saga parks
    scheduleToCloseTimeout: `${settings.stepBudgetSeconds ?? 300} seconds`,
    retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  };
}

/** A non-retryable ApplicationFailure from an activity is a business refusal with a stable code. */
function businessFailure(err: unknown): { code: string; reason: string } | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
    return { code: err.cause.type ?? 'REFUSED', reason: err.cause.message };
  }
  return undefined;
}
