import type { Deposit } from '../domain/deposits';
import type { LedgerLineView } from '../domain/history';
import { availableOf, type WalletRecord } from '../domain/wallets';

/**
 * Domain values → response objects. Amounts stay bigint and dates stay Date: the response schemas
 * (fast-json-stringify) write them as JSON integers and RFC 3339 strings. Nothing here may go through
 * JSON.stringify or Number, which would throw on bigint or lose precision above 2^53.
 */

export function serializeWallet(w: WalletRecord) {
  return {
    id: w.id,
    ownerId: w.ownerId,
    currency: w.currency,
    status: w.status,
    balance: w.balance,
    held: w.held,
    available: availableOf(w),
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
  };
}

export function serializeDeposit(d: Deposit) {
  return {
    id: d.id,
    walletId: d.walletId,
    amount: d.amount,
    currency: d.currency,
    reference: d.reference,
    balanceAfter: d.balanceAfter,
    createdAt: d.createdAt,
  };
}

export function serializeLine(l: LedgerLineView) {
  return {
    id: l.id,
    entryId: l.entryId,
    kind: l.kind,
    transferId: l.transferId,
    description: l.description,
    amount: l.amount,
    currency: l.currency,
    balanceAfter: l.balanceAfter,
    createdAt: l.createdAt,
  };
}
