import type { SagaStep, StepState, TransferStatus } from '../transfer-status';

/** What every saga step needs to know about a transfer; bigint amounts cross activities as decimal strings. */
export interface TransferDetails {
  transferId: string;
  fromWalletId: string;
  toWalletId: string;
  amount: bigint;
  currency: string;
  description?: string | null;
  /** the run of the saga doing the step, when a step runs inside one */
  runId?: string;
}

export interface TransferStateChange {
  transferId: string;
  /** omitted: only the step state changes */
  status?: TransferStatus;
  step?: SagaStep;
  stepState?: StepState;
  failure?: { step?: SagaStep; code: string; reason: string } | null;
  /** apply only if the transfer is in this status now (compare-and-set) */
  expectedStatus?: TransferStatus;
  /** the saga's run id, recorded by its first write (the API need not wait for the start to learn it) */
  runId?: string;
}
