import { Type } from '@sinclair/typebox';
import { LEDGER_LINE_EXAMPLE, WALLET_EXAMPLE } from '../schemas/examples';
import {
  Currency,
  jsonResponse,
  MinorUnits,
  NoQuery,
  Nullable,
  Page,
  PageQuery,
  pageQuery,
  PlainText,
  problemResponses,
  Reason,
  Ref,
  StringEnum,
  Timestamp,
  UuidRef,
  WalletIdParams,
} from '../schemas/common';

const WALLET_STATUSES = ['active', 'frozen', 'closed'] as const;

export const WalletSchema = Type.Object(
  {
    id: UuidRef,
    ownerId: Type.String({ description: 'the customer owning the wallet (the `sub` of its token)' }),
    currency: Type.String({ description: 'ISO 4217 code' }),
    status: StringEnum(WALLET_STATUSES),
    balance: MinorUnits('posted balance, minor units'),
    held: MinorUnits('sum of active holds (transfers in flight), minor units'),
    available: MinorUnits('balance - held: what can be spent now, minor units'),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Wallet', title: 'Wallet' },
);

export const WalletPageSchema = Page(WalletSchema, 'WalletPage', { merged: true });

export const CreateWalletBody = Type.Object(
  {
    ownerId: Type.Optional(
      PlainText({
        maxLength: 128,
        description: 'the customer owning the wallet; defaults to the caller, and a customer may only name itself',
      }),
    ),
    currency: Currency,
  },
  { additionalProperties: false, examples: [{ currency: 'EUR' }] },
);

export const LedgerLineSchema = Type.Object(
  {
    id: Type.String({ description: 'line id, increasing over time' }),
    entryId: UuidRef,
    kind: Type.String({ description: 'deposit, transfer or reversal' }),
    transferId: Nullable(UuidRef),
    description: Nullable(Type.String()),
    amount: MinorUnits('signed: positive credits the wallet, negative debits it'),
    currency: Type.String(),
    balanceAfter: MinorUnits("the wallet's balance right after this line"),
    createdAt: Timestamp,
  },
  { $id: 'LedgerLine', title: 'LedgerLine' },
);

export const LedgerLinePageSchema = Page(LedgerLineSchema, 'LedgerLinePage');

const LocationHeader = { location: { type: 'string', description: 'the URL of the created wallet' } };

export const createWalletSchema = {
  summary: 'Create a wallet (customer, for itself)',
  description: 'Opens a wallet in one currency for the calling customer (`ownerId` = the token subject).',
  tags: ['wallets'],
  security: [{ bearerAuth: [] }],
  querystring: NoQuery,
  body: CreateWalletBody,
  response: {
    201: jsonResponse(Ref(WalletSchema), 'The new wallet, with zero balances', {
      example: { ...WALLET_EXAMPLE, balance: 0, held: 0, available: 0 },
      headers: LocationHeader,
    }),
    ...problemResponses(400, 401, 403, 413, 415, 429),
  },
};

export const getWalletSchema = {
  summary: 'Get a wallet with its balances',
  description: "Customers see their own wallets only: anyone else's answers 404, like a wallet that does not exist.",
  tags: ['wallets'],
  security: [{ bearerAuth: [] }],
  params: WalletIdParams,
  querystring: NoQuery,
  response: {
    200: jsonResponse(Ref(WalletSchema), 'The wallet', { example: WALLET_EXAMPLE }),
    ...problemResponses(400, 401, 404, 414, 429),
  },
};

export const listWalletsSchema = {
  summary: 'List wallets, newest first',
  description:
    'ops, finance and admin see every wallet (merged from every wallet database, by creation time then id) and may ' +
    'filter by owner, currency and status; a customer sees its own wallets.',
  tags: ['wallets'],
  security: [{ bearerAuth: [] }],
  querystring: pageQuery(
    {
      ownerId: Type.Optional(PlainText({ maxLength: 128, description: 'only the wallets of this owner' })),
      currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, upper case' })),
      status: Type.Optional(StringEnum(WALLET_STATUSES)),
    },
    { merged: true },
  ),
  response: {
    200: jsonResponse(Ref(WalletPageSchema), 'One page of wallets', {
      example: { items: [WALLET_EXAMPLE], nextCursor: null },
    }),
    ...problemResponses(400, 401, 429),
  },
};

export const listTransactionsSchema = {
  summary: "List a wallet's ledger lines, newest first",
  description: "Cursor-paginated. Customers see their own wallets' lines only (404 otherwise).",
  tags: ['wallets'],
  security: [{ bearerAuth: [] }],
  params: WalletIdParams,
  querystring: PageQuery,
  response: {
    200: jsonResponse(Ref(LedgerLinePageSchema), 'One page of ledger lines', {
      example: { items: [LEDGER_LINE_EXAMPLE], nextCursor: null },
    }),
    ...problemResponses(400, 401, 404, 414, 429),
  },
};

export const walletStatusSchema = (action: 'freeze' | 'unfreeze') => ({
  summary: action === 'freeze' ? 'Freeze a wallet (admin)' : 'Unfreeze a wallet (admin)',
  description:
    (action === 'freeze'
      ? 'A frozen wallet neither sends nor receives; transfers in flight that touch it are cancelled by their saga. '
      : 'Makes a frozen wallet active again. ') +
    'Audited: the status change and its audit row (actor, reason, request id) are written in one transaction.',
  tags: ['wallets'],
  security: [{ bearerAuth: [] }],
  params: WalletIdParams,
  querystring: NoQuery,
  body: Type.Object(
    { reason: Reason('why; recorded in the audit trail') },
    {
      additionalProperties: false,
      examples: [
        { reason: action === 'freeze' ? 'suspected account takeover (CASE-311)' : 'identity re-verified (CASE-311)' },
      ],
    },
  ),
  response: {
    200: jsonResponse(Ref(WalletSchema), 'The wallet with its new status', {
      example: { ...WALLET_EXAMPLE, status: action === 'freeze' ? 'frozen' : 'active' },
    }),
    ...problemResponses(400, 401, 403, 404, 409, 413, 414, 415, 429),
  },
});
