/** Transfer lifecycle (docs/architecture.md §4). Mirrored in the transfers row, the TransferStatus search attribute and a query. */
export const TRANSFER_STATUSES = [
  'PENDING',
  'RESERVED',
  'ACCOUNTED',
  'POSTED',
  'COMPLETED',
  'REJECTED',
  'NEEDS_ATTENTION',
  'COMPENSATING',
  'CANCELLED',
] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TransferStatus[] = ['COMPLETED', 'REJECTED', 'CANCELLED'];

/** Settled for a caller: finished, or parked waiting for finance (what `Prefer: wait` waits for). */
export function isSettled(status: TransferStatus): boolean {
  return TERMINAL_STATUSES.includes(status) || status === 'NEEDS_ATTENTION';
}

export const SAGA_STEPS = ['reserve', 'accounting', 'ledger', 'notify'] as const;
export type SagaStep = (typeof SAGA_STEPS)[number];

export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'compensated' | 'skipped';
export type StepStates = Partial<Record<SagaStep, StepState>>;
