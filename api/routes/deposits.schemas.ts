import { Type } from '@sinclair/typebox';
import { IdempotencyKeyHeaders, ReplayedHeader } from '../plugins/idempotency';
import { DEPOSIT_EXAMPLE } from '../schemas/examples';
import {
  AmountInput,
  jsonResponse,
  MinorUnits,
  NoQuery,
  Nullable,
  PlainText,
  problemResponses,
  Ref,
  Timestamp,
  UuidRef,
  WalletIdParams,
} from '../schemas/common';

export const DepositSchema = Type.Object(
  {
    id: UuidRef,
    walletId: UuidRef,
    amount: MinorUnits('minor units credited'),
    currency: Type.String(),
    reference: Nullable(Type.String()),
    balanceAfter: MinorUnits("the wallet's balance right after this deposit"),
    createdAt: Timestamp,
  },
  { $id: 'Deposit', title: 'Deposit' },
);

/** Built per app: the amount maximum is the configured MAX_AMOUNT_MINOR. */
export function depositSchemas(maxAmountMinor: bigint) {
  return {
    create: {
      summary: 'Deposit money into a wallet (finance, admin; idempotent)',
      description:
        'Credits the wallet from the external world (in production: the payment-provider integration, running ' +
        'as finance). Requires Idempotency-Key, scoped to the caller: repeating the request with the same key and ' +
        'body returns the same deposit with `Idempotent-Replayed: true`; another body is refused (422). ' +
        'Audited: the posting and its audit row (reason = reference) commit in one transaction.',
      tags: ['deposits'],
      security: [{ bearerAuth: [] }],
      params: WalletIdParams,
      headers: IdempotencyKeyHeaders,
      querystring: NoQuery,
      body: Type.Object(
        {
          amount: AmountInput(maxAmountMinor),
          reference: Type.Optional(
            PlainText({ maxLength: 140, description: "the caller's reference, stored as given" }),
          ),
        },
        { additionalProperties: false, examples: [{ amount: 50000, reference: 'PSP settlement 2025-01-15 #884' }] },
      ),
      response: {
        201: jsonResponse(Ref(DepositSchema), 'The deposit (also on replays, byte for byte)', {
          example: DEPOSIT_EXAMPLE,
          headers: { 'idempotent-replayed': ReplayedHeader },
        }),
        ...problemResponses(400, 401, 403, 404, 409, 413, 414, 415, 422, 429),
      },
    },
  };
}
