import {
  CancellationScope,
  condition,
  currentUpdateInfo,
  isCancellation,
  patched,
  setHandler,
} from '@temporalio/workflow';
import { TERMINAL_STATUSES } from '../domain/transfer-status';
import {
  cancelUpdate,
  retryUpdate,
  type FinanceDecision,
  type FinanceDecisionKind,
  type TransferView,
} from './contract';
import { DECISION_OUTLIVES_CANCEL_PATCH } from './patches';
import { snapshotOf } from './transfer-view';
import { validateDecision } from './validate-decision';

/** A decision accepted by its update's validator, with the update that carried it. */
export interface AcceptedDecision {
  kind: FinanceDecisionKind;
  decision: FinanceDecision;
  updateId: string;
}

/**
 * Finance's decisions on a parked transfer (Saga v2), the whole protocol in one place: the `retry` and
 * `cancel` Update handlers accept at most one decision at a time (the validator refuses a second
 * one); the saga waits for it while parked, applies it and marks it applied; each handler answers once
 * its decision is applied (a cancel: once the transfer has ended) or released at the saga's end.
 */
export class FinanceDecisionInbox {
  /** accepted and not yet applied by the saga */
  private pending: AcceptedDecision | undefined;
  /** update ids whose handlers may answer: applied, or released at the end */
  private readonly answered = new Set<string>();

  constructor(private readonly view: TransferView) {}

  /** Registers the `retry` and `cancel` updates. */
  listen(): void {
    const validator = (kind: FinanceDecisionKind) => (d: FinanceDecision) =>
      validateDecision(this.view, this.pending !== undefined, d, kind);
    setHandler(retryUpdate, (d) => this.accept('retry', d), { validator: validator('retry') });
    setHandler(cancelUpdate, (d) => this.accept('cancel', d), { validator: validator('cancel') });
  }

  /**
   * Waits for a decision, cancellably (a cancel request of the workflow ends the wait like finance's
   * cancel); undefined once the deadline passed with none.
   */
  async next(deadlineMs: number): Promise<AcceptedDecision | undefined> {
    try {
      await condition(() => this.pending !== undefined, deadlineMs);
    } catch (err) {
      // A workflow cancel in the same activation as an accepted decision: the decision came first (updates
      // run before a cancel), so it is applied and the cancel takes effect after it. Accepted means applied.
      if (this.pending && isCancellation(err) && patched(DECISION_OUTLIVES_CANCEL_PATCH)) return this.pending;
      throw err;
    }
    // a decision accepted in the same instant as the deadline fired still wins: it was accepted
    return this.pending;
  }

  /** The saga applied the decision (its audit row is written): it joins the view, its update may answer. */
  applied(taken: AcceptedDecision): void {
    this.view.decisions.push({
      kind: taken.kind,
      ...taken.decision,
      at: new Date().toISOString(),
      updateId: taken.updateId,
    });
    this.answered.add(taken.updateId);
    this.pending = undefined;
  }

  /**
   * The saga ended without applying the decision it had accepted (the deadline or a cancel of the
   * workflow came first): its update answers with the transfer as it ended.
   */
  release(): void {
    if (this.pending) this.answered.add(this.pending.updateId);
  }

  private async accept(kind: FinanceDecisionKind, decision: FinanceDecision): Promise<TransferView> {
    const updateId = currentUpdateInfo()?.id ?? `${kind}-${this.view.decisions.length}`;
    this.pending = { kind, decision, updateId };
    await CancellationScope.nonCancellable(() =>
      condition(
        () => this.answered.has(updateId) && (kind === 'retry' || TERMINAL_STATUSES.includes(this.view.status)),
      ),
    );
    return snapshotOf(this.view);
  }
}
