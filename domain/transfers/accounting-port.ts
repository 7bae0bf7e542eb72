import type { TransferDetails } from './transfer';

/**
 * The accounting system boundary (docs/architecture.md §4). The built-in book (accounting-book.ts) implements it
 * on Postgres; an external general ledger can replace it. Implementations must be idempotent by
 * transfer id, throw DomainError('LIMIT_EXCEEDED') for a refused booking, and throw anything else
 * for "unavailable" (the saga retries those, then parks the transfer).
 */
export interface AccountingPort {
  book(transfer: TransferDetails): Promise<void>;
  /** Reverses a booking; before any booking it leaves a tombstone so a late book() is a no-op. */
  reverse(transfer: TransferDetails): Promise<void>;
}
