import type { SagaStep, StepState, TransferStatus } from '../transfer-status';

/**
 * Transfer values the saga, its activities and the API share. Pure (types only): the workflow
 * contract (workflows/contract.ts) takes its payload types from here into the workflow sandbox.
 */

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

/**
 * Finance's decision on a parked transfer, as sent by the API, the CLI or the Temporal UI
 * (`temporal workflow update execute --name retry --input '{"actor":"fiona","reason":"…"}'`).
 * `roles` and `requestId` are filled in by the API for the audit row; from elsewhere they are empty
 * and the audit row names the update instead.
 */
export interface FinanceDecision {
  actor: string;
  reason: string;
  roles?: string[];
  requestId?: string;
}

export type FinanceDecisionKind = 'retry' | 'cancel';
