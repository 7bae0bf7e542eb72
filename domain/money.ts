import { minorUnitExponent } from './currencies';
import { DomainError } from './errors';

/**
 * Money is an integer count of the currency's minor unit, a `bigint` in TypeScript (docs/architecture.md §3).
 * Pure functions only: the workflow sandbox imports this file too.
 */

/** Parses an amount arriving at an edge (JSON number, decimal string or bigint); rejects anything not in 1..max. */
export function parseAmount(input: unknown, max: bigint): bigint {
  let value: bigint;
  if (typeof input === 'bigint') value = input;
  else if (typeof input === 'number' && Number.isSafeInteger(input)) value = BigInt(input);
  else if (typeof input === 'string' && /^[0-9]{1,19}$/.test(input)) value = BigInt(input);
  else throw new DomainError('INVALID_AMOUNT', 'amount must be a positive integer number of minor units');
  if (value <= 0n) throw new DomainError('INVALID_AMOUNT', 'amount must be greater than zero');
  if (value > max) throw new DomainError('INVALID_AMOUNT', `amount must not exceed ${max}`);
  return value;
}

/** "1250" EUR → "12.50 EUR"; for logs, summaries and notifications, never for arithmetic. */
export function formatAmount(minor: bigint, currency: string): string {
  const exp = minorUnitExponent(currency);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exp + 1, '0');
  const whole = digits.slice(0, digits.length - exp);
  const fraction = exp > 0 ? `.${digits.slice(digits.length - exp)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction} ${currency}`;
}
