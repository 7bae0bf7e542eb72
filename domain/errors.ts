/**
 * Domain errors are values with a stable code. The API maps codes to HTTP statuses in one place
 * (api/errors.ts); activities turn the business ones into non-retryable ApplicationFailures whose
 * type is the code, so a saga can tell "insufficient funds" from "database down".
 */
export const DOMAIN_ERROR_CODES = [
  'WALLET_NOT_FOUND',
  'WALLET_NOT_ACTIVE',
  'INSUFFICIENT_FUNDS',
  'CURRENCY_MISMATCH',
  'LIMIT_EXCEEDED',
  'SAME_WALLET',
  'TRANSFER_NOT_FOUND',
  'TRANSFER_NOT_PARKED',
  'TRANSFER_NOT_CANCELLABLE',
  'IDEMPOTENCY_KEY_REUSED',
  'INVALID_AMOUNT',
  'INVALID_STATE',
  'HOLD_CAPTURED',
  'RECONCILIATION_RUN_NOT_FOUND',
] as const;
export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function isDomainError(err: unknown, code?: DomainErrorCode): err is DomainError {
  return err instanceof DomainError && (code === undefined || err.code === code);
}

/**
 * A transfer the saga refused (insufficient funds, currency mismatch, wallet not active or missing,
 * limit exceeded). The transfer exists (its id and workflow are kept for support), so this is an
 * outcome, not a failed request: the API answers 422 with the refusal's code whatever the code's
 * usual status.
 */
export class TransferRefused extends DomainError {
  constructor(
    code: DomainErrorCode,
    message: string,
    readonly transferId: string,
  ) {
    super(code, message);
    this.name = 'TransferRefused';
  }
}

/**
 * A transfer refused before anything was written (no transfer row, no saga): the receiver, read on its
 * own shard's database, is missing, not active or holds another currency. Answered like a refusal by the
 * saga (422 with the code), without a `transferId`, since no transfer exists.
 */
export class TransferRefusedEarly extends DomainError {
  constructor(code: 'WALLET_NOT_FOUND' | 'WALLET_NOT_ACTIVE' | 'CURRENCY_MISMATCH', message: string, walletId: string) {
    super(code, message, { walletId });
    this.name = 'TransferRefusedEarly';
  }
}
