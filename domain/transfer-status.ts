/** Transfer lifecycle (docs/architecture.md §4). Mirrored in the transfers row, the TransferStatus search attribute and a query. */
export const TRANSFER_STATUSES = [
  'PENDING',
  'RESERVED',
  'ACCOUNTED',
  /** a cross-shard transfer's debit is posted on the sender's shard: the point of no return (docs/architecture.md §9) */
  'DEBITED',
  'POSTED',
  'COMPLETED',
  'REJECTED',
  'NEEDS_ATTENTION',
  'COMPENSATING',
  'CANCELLED',
  /** a cross-shard transfer whose credit the receiving shard refused for good: the money went back to the sender */
  'RETURNED',
] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TransferStatus[] = ['COMPLETED', 'REJECTED', 'CANCELLED', 'RETURNED'];

/** Settled for a caller: finished, or parked waiting for finance (what `Prefer: wait` waits for). */
export function isSettled(status: TransferStatus): boolean {
  return TERMINAL_STATUSES.includes(status) || status === 'NEEDS_ATTENTION';
}

/** ledger: a same-shard transfer's one entry; debit and credit: a cross-shard transfer's two (docs/architecture.md §9). */
export const SAGA_STEPS = ['reserve', 'accounting', 'ledger', 'debit', 'credit', 'notify'] as const;
export type SagaStep = (typeof SAGA_STEPS)[number];

/** waiting: the step's database is unavailable and the saga waits for it on a durable timer (not a failed attempt). */
export type StepState = 'pending' | 'running' | 'waiting' | 'done' | 'failed' | 'compensated' | 'skipped';
export type StepStates = Partial<Record<SagaStep, StepState>>;
