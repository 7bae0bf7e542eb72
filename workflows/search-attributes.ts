import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Custom search attributes (DESIGN §4) so ops can find transfers in the Temporal UI,
// e.g. `TransferStatus = "NEEDS_ATTENTION" AND Currency = "EUR"`.
export const TransferStatusKey = defineSearchAttributeKey('TransferStatus', SearchAttributeType.KEYWORD);
export const FromWalletIdKey = defineSearchAttributeKey('FromWalletId', SearchAttributeType.KEYWORD);
export const ToWalletIdKey = defineSearchAttributeKey('ToWalletId', SearchAttributeType.KEYWORD);
export const AmountMinorKey = defineSearchAttributeKey('AmountMinor', SearchAttributeType.INT);
export const CurrencyKey = defineSearchAttributeKey('Currency', SearchAttributeType.KEYWORD);

export const transferSearchAttributes = [TransferStatusKey, FromWalletIdKey, ToWalletIdKey, AmountMinorKey, CurrencyKey];
