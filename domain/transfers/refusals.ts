/**
 * The business refusals a saga step can end a transfer with (non-retryable, typed by code). A
 * transfer that ends with one of these was refused: the API answers 422 with the code.
 */
export const REFUSAL_CODES = [
  'INSUFFICIENT_FUNDS',
  'CURRENCY_MISMATCH',
  'WALLET_NOT_ACTIVE',
  'WALLET_NOT_FOUND',
  'LIMIT_EXCEEDED',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export function isRefusalCode(code: string | null | undefined): code is RefusalCode {
  return (REFUSAL_CODES as readonly string[]).includes(code ?? '');
}

/**
 * Not a refusal but the point of no return: the compensation that would release the hold found it
 * captured (the ledger posted). The saga then goes forward to COMPLETED instead of cancelling.
 */
export const HOLD_CAPTURED = 'HOLD_CAPTURED';
