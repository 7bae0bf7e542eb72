import { Type } from '@sinclair/typebox';
import { SAGA_STEPS, TRANSFER_STATUSES } from '../../domain/transfer-status';
import { IdempotencyKeyHeaders, ReplayedHeader } from '../plugins/idempotency';
import { CANCELLED_TRANSFER_EXAMPLE, IDS, PARKED_TRANSFER_EXAMPLE, TRANSFER_EXAMPLE } from '../schemas/examples';
import {
  AmountInput,
  jsonResponse,
  Currency,
  MinorUnits,
  NoQuery,
  Nullable,
  Page,
  PlainText,
  problemResponses,
  Reason,
  Ref,
  StringEnum,
  Timestamp,
  pageQuery,
  Uuid,
  UuidRef,
  UuidWithExample,
} from '../schemas/common';

export const StepStateSchema = StringEnum(
  ['pending', 'running', 'waiting', 'done', 'failed', 'compensated', 'skipped'],
  {
    $id: 'StepState',
    title: 'StepState',
  },
);

export const TransferStatusSchema = StringEnum(TRANSFER_STATUSES, {
  $id: 'TransferStatus',
  title: 'TransferStatus',
  description:
    'PENDING → RESERVED → ACCOUNTED → POSTED → COMPLETED (between shards: ACCOUNTED → DEBITED → POSTED); or ' +
    'REJECTED, NEEDS_ATTENTION, COMPENSATING → CANCELLED; RETURNED: the receiving shard refused, money back',
});

export const TransferSchema = Type.Object(
  {
    id: UuidRef,
    status: Ref(TransferStatusSchema),
    fromWalletId: UuidRef,
    toWalletId: UuidRef,
    amount: MinorUnits('minor units'),
    currency: Type.String(),
    description: Nullable(Type.String()),
    steps: Type.Object(Object.fromEntries(SAGA_STEPS.map((s) => [s, Type.Optional(Ref(StepStateSchema))])), {
      description:
        'state of each saga step: reserve, accounting, ledger (same shard) or debit and credit (between shards), notify',
    }),
    failure: Nullable(
      Type.Object({
        step: Nullable(Type.String()),
        code: Type.String({
          description: 'stable code, e.g. INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, STEP_RETRIES_EXHAUSTED',
        }),
        reason: Type.String(),
      }),
    ),
    parked: Nullable(
      Type.Object(
        {
          step: Nullable(Type.String({ description: 'the step that spent its retry budget' })),
          since: Timestamp,
          deadline: Type.Unsafe<Date>({
            type: 'string',
            format: 'date-time',
            description:
              'when the saga cancels the transfer if nobody decides (parked since + TRANSFER_PARK_DEADLINE_SECONDS)',
          }),
        },
        {
          description:
            'while NEEDS_ATTENTION: what is stuck, since when, and until when finance may decide; null otherwise',
        },
      ),
    ),
    workflowId: Type.String({ description: 'open it in the Temporal UI: /namespaces/<ns>/workflows/<workflowId>' }),
    runId: Nullable(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    finishedAt: Nullable(Timestamp),
  },
  { $id: 'Transfer', title: 'Transfer' },
);

export const TransferPageSchema = Page(TransferSchema, 'TransferPage', { merged: true });

const TransferIdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

// RFC 7240: a server ignores the preferences it does not know, so any value of any length is accepted (Node's
// header size limit bounds it); only wait=N acts (api/transfers/prefer.ts)
const PreferHeader = Type.Optional(
  Type.String({
    description:
      'RFC 7240 preferences. wait=N: answer 200 once the transfer settles (finished or parked) within N seconds ' +
      '(at most 30; a larger N waits 30), else 202. Other preferences are ignored.',
  }),
);

const TransferHeaders = {
  location: { type: 'string', description: 'the URL of the transfer' },
  'idempotent-replayed': ReplayedHeader,
  'preference-applied': { type: 'string', description: 'wait=N when a Prefer: wait=N was honoured' },
};

const bearer = [{ bearerAuth: [] }];

/** Built per app: the amount maximum is the configured MAX_AMOUNT_MINOR. */
export function transferSchemas(maxAmountMinor: bigint) {
  return {
    create: {
      summary: 'Start a transfer between two wallets (customer; idempotent)',
      description:
        'Starts the transfer saga from a wallet the calling customer owns to any existing wallet (a wallet that ' +
        'is not yours as the source answers 404, like one that does not exist). Requires Idempotency-Key, scoped ' +
        'to the caller: the same key and body return the same transfer (its current state) with ' +
        '`Idempotent-Replayed: true`, also while it runs; another body is refused (422). Two callers using the ' +
        'same key get two different transfers.\n\n' +
        'A receiver that does not exist, is not active or holds another currency is refused at once (422, nothing ' +
        'is written).\n\n' +
        "The answer carries the saga's reserve decision: the transfer once the hold is placed (RESERVED or later), " +
        "or 422 with the refusal's code (INSUFFICIENT_FUNDS, CURRENCY_MISMATCH, WALLET_NOT_ACTIVE, LIMIT_EXCEEDED, " +
        "…) and the refused transfer's id in `transferId`; a replay answers the same. If the saga cannot answer in " +
        'time (e.g. no worker is running) the answer is 202 with the transfer still PENDING; it runs when a worker ' +
        'returns. With `Prefer: wait=N` the answer waits (on the workflow) up to N seconds for the transfer to settle.',
      tags: ['transfers'],
      security: bearer,
      headers: Type.Composite([IdempotencyKeyHeaders, Type.Object({ prefer: PreferHeader })]),
      querystring: NoQuery,
      body: Type.Object(
        {
          // two example ids: generators that combine property examples must not build a transfer to itself
          fromWalletId: UuidWithExample(IDS.WALLET_ID),
          toWalletId: UuidWithExample(IDS.OTHER_WALLET_ID),
          amount: AmountInput(maxAmountMinor),
          currency: Currency,
          description: Type.Optional(PlainText({ maxLength: 140, description: 'shown to both parties' })),
        },
        {
          additionalProperties: false,
          examples: [
            {
              fromWalletId: IDS.WALLET_ID,
              toWalletId: IDS.OTHER_WALLET_ID,
              amount: 2500,
              currency: 'EUR',
              description: 'rent',
            },
          ],
        },
      ),
      response: {
        200: jsonResponse(
          Ref(TransferSchema),
          'With Prefer: wait=N, the transfer settled (finished or parked) in time',
          {
            example: TRANSFER_EXAMPLE,
            headers: TransferHeaders,
          },
        ),
        202: jsonResponse(
          Ref(TransferSchema),
          'The transfer was accepted (funds held, or still PENDING if the saga could not answer in time); its saga runs on',
          {
            example: {
              ...TRANSFER_EXAMPLE,
              status: 'POSTED',
              steps: { reserve: 'done', accounting: 'done', ledger: 'done' },
              finishedAt: null,
            },
            headers: TransferHeaders,
          },
        ),
        ...problemResponses(400, 401, 403, 404, 413, 415, 422, 429),
      },
    },
    get: {
      summary: 'Get a transfer with the state of each saga step',
      description: 'Customers see transfers sent from or received into their own wallets only (404 otherwise).',
      tags: ['transfers'],
      security: bearer,
      params: TransferIdParams,
      querystring: NoQuery,
      response: {
        200: jsonResponse(Ref(TransferSchema), 'The transfer', { example: TRANSFER_EXAMPLE }),
        ...problemResponses(400, 401, 404, 414, 429),
      },
    },
    list: {
      summary: 'List transfers, newest first',
      description:
        'ops, finance and admin see every transfer and may filter by status, wallet, currency and failed step ' +
        '(e.g. `status=NEEDS_ATTENTION&failedStep=accounting`: the transfers parked because the accounting system failed). ' +
        'A customer sees the transfers sent from or received into its own wallets; with `walletId`, that wallet must be ' +
        'its own (404 otherwise). Merged from every wallet database, ordered by creation time then id.',
      tags: ['transfers'],
      security: bearer,
      querystring: pageQuery(
        {
          // inline, not Ref(): query strings are checked by an Ajv that holds no shared schemas (api/validation.ts)
          status: Type.Optional(StringEnum(TRANSFER_STATUSES, { description: 'only transfers in this status' })),
          walletId: Type.Optional(Uuid),
          currency: Type.Optional(
            Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, upper case', examples: ['EUR'] }),
          ),
          failedStep: Type.Optional(StringEnum(SAGA_STEPS, { description: 'the step that failed (`failure.step`)' })),
        },
        { merged: true },
      ),
      response: {
        200: jsonResponse(Ref(TransferPageSchema), 'One page of transfers', {
          example: { items: [PARKED_TRANSFER_EXAMPLE], nextCursor: null },
        }),
        ...problemResponses(400, 401, 404, 429),
      },
    },
    decide: (action: 'retry' | 'cancel') => ({
      summary:
        action === 'retry'
          ? 'Retry the failed step of a parked transfer (finance, admin)'
          : 'Cancel a parked transfer; held funds are released (finance, admin)',
      description:
        'Sent to the saga as a Workflow Update: only a NEEDS_ATTENTION transfer on which no other decision is being ' +
        'applied takes it (409 TRANSFER_NOT_PARKED otherwise, nothing changes). ' +
        (action === 'cancel'
          ? 'A transfer between shards whose debit is posted only goes forward: 409 TRANSFER_NOT_CANCELLABLE (retry it). '
          : '') +
        '200: the decision was applied ' +
        (action === 'retry'
          ? '(the failed step runs again with a fresh budget)'
          : '(holds released, bookings reversed)') +
        ' and the answer is the transfer after it; 202: the saga accepted it durably but had not finished applying ' +
        'it in time. Audited by the saga, in the transaction that applies the decision (actor, roles, reason, request id). ' +
        "Requires Idempotency-Key (one per decision): re-sent with the same key and body it answers with that decision's " +
        'outcome and `Idempotent-Replayed: true`, also when the first answer was lost or a 503; another body is refused (422).',
      tags: ['finance'],
      security: bearer,
      params: TransferIdParams,
      querystring: NoQuery,
      headers: IdempotencyKeyHeaders,
      body: Type.Object(
        { reason: Reason('why; recorded in the audit trail and the workflow history') },
        {
          additionalProperties: false,
          examples: [{ reason: action === 'retry' ? 'accounting restored (INC-42)' : 'customer withdrew the order' }],
        },
      ),
      response: {
        200: jsonResponse(Ref(TransferSchema), 'The decision was applied; the transfer after it', {
          example: action === 'retry' ? { ...TRANSFER_EXAMPLE, status: 'ACCOUNTED' } : CANCELLED_TRANSFER_EXAMPLE,
          headers: { 'idempotent-replayed': ReplayedHeader },
        }),
        202: jsonResponse(Ref(TransferSchema), 'The saga accepted the decision and is still applying it', {
          example: PARKED_TRANSFER_EXAMPLE,
          headers: { 'idempotent-replayed': ReplayedHeader },
        }),
        ...problemResponses(400, 401, 403, 404, 409, 413, 414, 415, 422, 429, 503),
      },
    }),
  };
}
