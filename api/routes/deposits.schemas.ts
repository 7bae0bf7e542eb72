import { Type } from '@sinclair/typebox';
import { IdempotencyKeyHeaders } from '../plugins/idempotency';
import {
  AmountInput,
  MinorUnits,
  Nullable,
  PlainText,
  problemResponses,
  Timestamp,
  Uuid,
  WalletIdParams,
} from '../schemas/common';

export const DepositSchema = Type.Object(
  {
    id: Uuid,
    walletId: Uuid,
    amount: MinorUnits('minor units credited'),
    currency: Type.String(),
    reference: Nullable(Type.String()),
    balanceAfter: MinorUnits("the wallet's balance right after this deposit"),
    createdAt: Timestamp,
  },
  { title: 'Deposit' },
);

/** Built per app: the amount maximum is the configured MAX_AMOUNT_MINOR. */
export function depositSchemas(maxAmountMinor: bigint) {
  return {
    create: {
      summary: 'Deposit money into a wallet (idempotent)',
      description:
        'Credits the wallet from the external world. Requires Idempotency-Key: repeating the request with the ' +
        'same key and body returns the same deposit with `Idempotent-Replayed: true`; another body is refused.',
      tags: ['deposits'],
      params: WalletIdParams,
      headers: IdempotencyKeyHeaders,
      body: Type.Object(
        {
          amount: AmountInput(maxAmountMinor),
          reference: Type.Optional(PlainText({ maxLength: 140, description: "the caller's reference, stored as given" })),
        },
        { additionalProperties: false },
      ),
      response: { 201: DepositSchema, ...problemResponses(400, 404, 409, 413, 415, 422) },
    },
  };
}
