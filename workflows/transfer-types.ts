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
  /** total retry budget of one step before the transfer is parked */
  stepBudgetSeconds: number;
  /** one attempt of a step; a dead worker's attempt is retried after this */
  stepAttemptTimeoutSeconds: number;
  /** how long a parked transfer waits for finance before it is cancelled */
  parkDeadlineSeconds: number;
}

export interface TransferWorkflowInput {
  transfer: TransferPayload;
  settings: SagaSettings;
}

/** Who asked finance's question and why; shown in history and written to the transfer. */
export interface FinanceDecision {
  actor: string;
  reason: string;
}

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
  decisions: Array<FinanceDecision & { kind: 'retry' | 'cancel'; at: string }>;
}
