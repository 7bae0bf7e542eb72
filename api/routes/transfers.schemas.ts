import { Type } from '@sinclair/typebox';
import { SAGA_STEPS, TRANSFER_STATUSES } from '../../domain/transfer-status';
import { IdempotencyKeyHeaders } from '../plugins/idempotency';
import {
  AmountInput,
  Currency,
  MinorUnits,
  Nullable,
  PlainText,
  problemResponses,
  Timestamp,
  Uuid,
} from '../schemas/common';

const StepState = Type.Union(
  ['pending', 'running', 'done', 'failed', 'compensated', 'skipped'].map((s) => Type.Literal(s)),
);

export const TransferStatusSchema = Type.Union(
  TRANSFER_STATUSES.map((s) => Type.Literal(s)),
  { description: 'PENDING → RESERVED → ACCOUNTED → POSTED → COMPLETED; or REJECTED, NEEDS_ATTENTION, COMPENSATING → CANCELLED' },
);

export const TransferSchema = Type.Object(
  {
    id: Uuid,
    status: TransferStatusSchema,
    fromWalletId: Uuid,
    toWalletId: Uuid,
    amount: MinorUnits('minor units'),
    currency: Type.String(),
    description: Nullable(Type.String()),
    steps: Type.Object(
      Object.fromEntries(SAGA_STEPS.map((s) => [s, Type.Optional(StepState)])),
      { description: 'state of each saga step: reserve, accounting, ledger, notify' },
    ),
    failure: Nullable(
      Type.Object({
        step: Nullable(Type.String()),
        code: Type.String({ description: 'stable code, e.g. INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, STEP_RETRIES_EXHAUSTED' }),
        reason: Type.String(),
      }),
    ),
    workflowId: Type.String({ description: 'open it in the Temporal UI: /namespaces/<ns>/workflows/<workflowId>' }),
    runId: Nullable(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    finishedAt: Nullable(Timestamp),
  },
  { title: 'Transfer' },
);

const TransferIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

const PreferHeader = Type.Optional(
  Type.String({
    pattern: '^\\s*wait=([0-9]|[12][0-9]|30)\\s*$',
    description: 'wait=N (0..30): answer 200 once the transfer settles (finished or parked) within N seconds, else 202',
  }),
);

/** Built per app: the amount maximum is the configured MAX_AMOUNT_MINOR. */
export function transferSchemas(maxAmountMinor: bigint) {
  return {
    create: {
      summary: 'Start a transfer between two wallets (idempotent)',
      description:
        'Starts the transfer saga. Requires Idempotency-Key: the same key and body return the same transfer ' +
        '(its current state) with `Idempotent-Replayed: true`, also while it runs; another body is refused (422).',
      tags: ['transfers'],
      headers: Type.Composite([IdempotencyKeyHeaders, Type.Object({ prefer: PreferHeader })]),
      body: Type.Object(
        {
          fromWalletId: Uuid,
          toWalletId: Uuid,
          amount: AmountInput(maxAmountMinor),
          currency: Currency,
          description: Type.Optional(PlainText({ maxLength: 140, description: 'shown to both parties' })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: TransferSchema,
        202: TransferSchema,
        ...problemResponses(400, 404, 413, 415, 422),
      },
    },
    get: {
      summary: 'Get a transfer with the state of each saga step',
      tags: ['transfers'],
      params: TransferIdParams,
      response: { 200: TransferSchema, ...problemResponses(400, 404) },
    },
    list: {
      summary: 'List transfers, newest first (ops and finance)',
      tags: ['transfers'],
      querystring: Type.Object(
        {
          status: Type.Optional(TransferStatusSchema),
          walletId: Type.Optional(Uuid),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
          cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          { items: Type.Array(TransferSchema), nextCursor: Nullable(Type.String()) },
          { title: 'TransferPage' },
        ),
        ...problemResponses(400),
      },
    },
    decide: (action: 'retry' | 'cancel') => ({
      summary:
        action === 'retry'
          ? 'Retry the failed step of a parked transfer (finance)'
          : 'Cancel a parked transfer; held funds are released (finance)',
      tags: ['finance'],
      params: TransferIdParams,
      body: Type.Object(
        { reason: PlainText({ maxLength: 500, description: 'why; recorded in the workflow history' }) },
        { additionalProperties: false },
      ),
      response: { 202: TransferSchema, ...problemResponses(400, 404, 409, 413, 415) },
    }),
  };
}
