import type { SagaStep, StepState, TransferStatus } from '../transfer-status';

/** What every saga step needs to know about a transfer; bigint amounts cross activities as decimal strings. */
export interface TransferDetails {
  transferId: string;
  fromWalletId: string;
  toWalletId: string;
  amount: bigint;
  currency: string;
  description?: string | null;
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
}
