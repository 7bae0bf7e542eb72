import type { FinanceDecision, FinanceDecisionKind } from '../domain/transfers/finance-decision';
import type { SagaStep, StepStates, TransferStatus } from '../domain/transfer-status';

/** A transfer as it crosses the workflow/activity boundary: amounts are decimal strings (JSON has no bigint). */
export interface TransferPayload {
  transferId: string;
  fromWalletId: string;
  toWalletId: string;
  amountMinor: string;
  currency: string;
  description?: string | null;
}

/** Saga timing, fixed by the API at start from its configuration and recorded in history. */
export interface SagaSettings {
  /**
   * v2: the retry budget of one step, in attempts. Only failed attempts count: time spent waiting for
   * a worker (an outage of every worker) spends nothing. When they are spent the transfer is parked.
   */
  stepMaxAttempts?: number;
  /** v1 only (workflows started before Saga v2): the step budget as a schedule-to-close time */
  stepBudgetSeconds?: number;
  /** one attempt of a step; an attempt that outlives it counts as failed and is retried */
  stepAttemptTimeoutSeconds: number;
  /** how long a parked transfer waits for finance before it is cancelled */
  parkDeadlineSeconds: number;
}

export interface TransferWorkflowInput {
  transfer: TransferPayload;
  settings: SagaSettings;
}

export type { FinanceDecision, FinanceDecisionKind } from '../domain/transfers/finance-decision';

export interface TransferFailure {
  step?: SagaStep;
  code: string;
  reason: string;
}

export interface TransferView {
  status: TransferStatus;
  steps: StepStates;
  failure: TransferFailure | null;
  /** while NEEDS_ATTENTION: the step that exhausted its budget and when the deadline cancels it */
  parked: { step: SagaStep; since: string; deadline: string } | null;
  /** finance decisions as the workflow applied them (v2: each with the update that carried it) */
  decisions: Array<FinanceDecision & { kind: FinanceDecisionKind; at: string; updateId?: string }>;
}

/**
 * What the `answer` update waits for: `reserved` — the reserve step was decided (held, refused or
 * parked); `settled` — the transfer finished or is parked (Prefer: wait).
 */
export type AnswerStage = 'reserved' | 'settled';
